"""The rendered letter: text against the Ombudsman's real 2020 letter, HTML escaping, PDF
layout and the renderer's refusals (missing values, missing or outside assets)."""

from __future__ import annotations

import difflib
import hashlib
import logging
import re
import shutil
import subprocess
from datetime import date
from fractions import Fraction
from pathlib import Path

import jinja2
import pytest

from contracts.financial_year import FinancialYear
from contracts.groups import ComparisonGroup
from contracts.values import ChiefExecutive, Signatory
from services.domain.letter import Letter, build_letter
from services.domain.statistics import CouncilYear, CouncilYearCounts, GroupAverages
from services.letters.render import (
    LetterRenderError,
    digests,
    environment,
    html_to_pdf,
    render_html,
    render_letter,
    render_pdf,
    render_text,
    template_version,
)
from tests.support.narratives import narrative_for

REPO = Path(__file__).resolve().parents[2]
REFERENCE = REPO.parent / "shared" / "reference" / "annual-review-letter-2020.txt"

KING = Signatory(
    name="Michael King",
    titles=(
        "Local Government and Social Care Ombudsman",
        "Chair, Commission for Local Administration in England",
    ),
)
BARSBY = ChiefExecutive(
    name="Hayley Barsby",
    job_title="Interim Chief Executive",
    salutation="Ms Barsby",
    email="chief.executive@mansfield.gov.uk",
)
MANSFIELD = CouncilYearCounts(
    upheld=1, not_upheld=1, satisfactory_remedies=0, compliance_outcomes=1, compliance_implemented=1
)
HOSTILE = "<script>alert(1)</script> {{ 7*7 }}"


def letter_for(
    counts: CouncilYearCounts = MANSFIELD,
    start_year: int = 2019,
    council_name: str = "Mansfield District Council",
    addressee: ChiefExecutive = BARSBY,
    population: int | None = None,
) -> Letter:
    year = FinancialYear(start_year)
    return build_letter(
        council_name,
        addressee,
        year,
        CouncilYear("MAN", year, ComparisonGroup.DISTRICT, counts, population),
        GroupAverages(
            ComparisonGroup.DISTRICT,
            year,
            181,
            Fraction(45, 100),
            Fraction(99, 100),
            Fraction(20, 100),
            Fraction(12, 10),
        ),
        date(start_year + 1, 7, 22),
        date(start_year + 1, 7, 29),
        KING,
        narrative=narrative_for(start_year + 1),
    )


def normalised_lines(text: str) -> list[str]:
    """The comparison rules: link markup ``[label](#)`` reads as its label, ``**`` bold
    markers go, and blank or whitespace-only lines and trailing spaces are ignored."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text).replace("**", "")
    return [line.rstrip() for line in text.splitlines() if line.strip()]


def assert_same_lines(expected: list[str], actual: list[str]) -> None:
    if expected != actual:
        diff = "\n".join(
            difflib.unified_diff(expected, actual, "reference", "rendered", lineterm="", n=1)
        )
        pytest.fail(f"rendered letter differs from the reference:\n{diff}")


def reference_lines() -> list[str]:
    if not REFERENCE.is_file():
        pytest.skip(f"reference letter not found: looked for {REFERENCE}")
    return normalised_lines(REFERENCE.read_text(encoding="utf-8"))


def pdf_text(pdf: bytes, tmp_path: Path, first: int | None = None) -> str:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    path = tmp_path / "letter.pdf"
    path.write_bytes(pdf)
    pages = [] if first is None else ["-f", str(first), "-l", str(first)]
    return subprocess.run(
        ["pdftotext", "-layout", *pages, str(path), "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout


# --- THE KEY TEST: the real 2020 letter, line for line -------------------------------------


def test_mansfield_2020_text_letter_matches_the_reference_line_for_line() -> None:
    assert_same_lines(reference_lines(), normalised_lines(render_text(letter_for())))


def test_mansfield_2020_statistics_blocks_match_the_reference_exactly() -> None:
    reference = reference_lines()
    rendered = normalised_lines(render_text(letter_for()))
    # The statistics follow the signatory's last title line.
    start = reference.index("Chair, Commission for Local Administration in England") + 1
    assert reference[start] == "Complaints upheld"
    assert_same_lines(reference[start:], rendered[start:])


def test_text_letter_ends_with_one_newline() -> None:
    text = render_text(letter_for())
    assert text.endswith("2020\n") and not text.endswith("\n\n")


# --- year differences in the rendered text -------------------------------------------------


@pytest.mark.parametrize("start_year", [2019, 2020, 2021])
def test_text_letters_before_2023_have_no_per_100k_line(start_year: int) -> None:
    assert "per 100,000" not in render_text(letter_for(start_year=start_year, population=10**5))


def test_2023_text_letter_prints_the_per_100k_line_and_average() -> None:
    text = render_text(letter_for(start_year=2022, population=50_000))
    assert (
        "Adjusted for Mansfield District Council's population, this is "
        "2 upheld decisions per 100,000 residents." in text
    )
    assert (
        "The average for authorities of this type is 1.2 upheld decisions per 100,000 residents."
        in text
    )


def test_2024_text_letter_says_a_total_of_n_investigations() -> None:
    text = render_text(letter_for(start_year=2023, population=50_000))
    assert "Statistics are based on a total of 2 investigations for the period between" in text
    assert "detailed investigations" not in text


def test_2021_letter_is_addressed_by_name_and_says_the_council() -> None:
    lines = normalised_lines(render_text(letter_for(start_year=2020)))
    assert lines[3:6] == ["Hayley Barsby", "Interim Chief Executive", "Mansfield District Council"]
    assert "Dear Ms Barsby" in lines
    assert (
        "In 100% of cases we were satisfied the Council had successfully implemented our "
        "recommendations." in lines
    )
    assert "Michael King" in lines


def test_zero_case_letter_reads_as_plain_sentences() -> None:
    lines = normalised_lines(render_text(letter_for(CouncilYearCounts(advice_given=2), 2020)))
    start = lines.index("Complaints upheld", lines.index("Michael King"))
    assert lines[start:] == [
        "Complaints upheld",
        "We did not investigate any complaints about the Council in this period, "
        "so there is no uphold rate to report.",
        "Compliance with Ombudsman recommendations",
        "No recommendations were due for compliance in this period",
        "- Failure to comply with our recommendations is rare. An authority with a compliance "
        "rate below 100% should scrutinise those complaints where it failed to comply and "
        "identify any learning.",
        "Satisfactory remedies provided by the Council",
        "We did not uphold any complaints about the Council in this period, "
        "so there is no satisfactory remedy rate to report.",
    ]


def test_rounding_half_up_reaches_the_rendered_letter() -> None:
    text = render_text(letter_for(CouncilYearCounts(upheld=1, not_upheld=7)))
    assert "13% of complaints we investigated were upheld." in text
    text = render_text(letter_for(CouncilYearCounts(upheld=7, not_upheld=1)))
    assert "88% of complaints we investigated were upheld." in text


# --- escaping: names are text, never markup or template code -------------------------------


def hostile_letter(start_year: int) -> Letter:
    addressee = ChiefExecutive(
        name=f"Mr {HOSTILE}",
        job_title=f"Chief {HOSTILE}",
        salutation="Dear <b>X</b>",
        email="ce@example.gov.uk",
    )
    return letter_for(
        start_year=start_year, council_name=f"{HOSTILE} Council & Sons", addressee=addressee
    )


@pytest.mark.parametrize("start_year", [2019, 2021])
def test_hostile_names_print_literally_in_the_text_letter(start_year: int) -> None:
    text = render_text(hostile_letter(start_year))
    assert f"{HOSTILE} Council & Sons" in text
    assert f"Chief {HOSTILE}" in text
    assert "49" not in text


@pytest.mark.parametrize("start_year", [2019, 2021])
def test_hostile_names_are_escaped_in_the_html_letter(start_year: int) -> None:
    html = render_html(hostile_letter(start_year))
    assert "<script>" not in html
    assert "<b>X</b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; {{ 7*7 }} Council &amp; Sons" in html
    assert "Dear Dear &lt;b&gt;X&lt;/b&gt;" in html
    assert "49" not in html


def test_hostile_names_print_literally_in_the_pdf(tmp_path: Path) -> None:
    letter = hostile_letter(2021)
    text = " ".join(pdf_text(render_pdf(letter), tmp_path).split())
    assert f"{HOSTILE} Council & Sons" in text
    assert f"Mr {HOSTILE}" in text
    assert "49" not in text


def test_hostile_council_name_is_escaped_inside_the_chart_svg() -> None:
    html = render_html(hostile_letter(2021))
    titles = re.findall(r"<title>(.*?)</title>", html, flags=re.S)
    assert any("&lt;script&gt;" in title for title in titles[1:])


# --- the renderer refuses to guess ---------------------------------------------------------


def test_a_missing_template_variable_raises() -> None:
    template = environment().get_template("letter-2020.html.j2")
    with pytest.raises(jinja2.UndefinedError, match="charts"):
        template.render(letter=letter_for())  # no charts given


def test_a_missing_attribute_of_the_letter_raises() -> None:
    template = environment().from_string("{{ letter.no_such_field }}")
    with pytest.raises(jinja2.UndefinedError):
        template.render(letter=letter_for())


def test_text_templates_are_not_html_escaped_but_html_templates_are() -> None:
    env = environment()
    assert env.autoescape("letter-2020.html.j2") is True  # type: ignore[operator]
    assert env.autoescape("letter-2020.txt.j2") is False  # type: ignore[operator]


def test_a_missing_asset_fails_the_pdf_render() -> None:
    with pytest.raises(LetterRenderError, match=r"no-such-logo\.png"):
        html_to_pdf('<p>x</p><img src="no-such-logo.png">')


def test_a_network_asset_is_refused_and_fails_the_render() -> None:
    with pytest.raises(LetterRenderError, match=r"example\.org"):
        html_to_pdf('<link rel="stylesheet" href="https://example.org/x.css"><p>x</p>')


def test_a_local_file_outside_the_templates_is_refused() -> None:
    with pytest.raises(LetterRenderError, match="passwd"):
        html_to_pdf('<img src="file:///etc/passwd">')


def test_a_data_url_asset_is_allowed() -> None:
    pixel = "data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7"
    assert html_to_pdf(f'<img src="{pixel}">').startswith(b"%PDF-")


# --- the PDF -------------------------------------------------------------------------------


def test_2020_pdf_puts_the_statistics_on_their_own_page_after_the_signature(
    tmp_path: Path,
) -> None:
    pdf = render_pdf(letter_for())
    last = pdf_text(pdf, tmp_path, first=3)
    signature_page = pdf_text(pdf, tmp_path, first=2)
    assert "Yours sincerely," in signature_page and "Complaints upheld" not in signature_page
    for title in (
        "Complaints upheld",
        "Compliance with Ombudsman recommendations",
        "Satisfactory remedies provided by the authority",
    ):
        assert title in last
    assert "Page 3 of 3" in last


def test_pdf_header_names_the_ombudsman_like_the_reference(tmp_path: Path) -> None:
    first = " ".join(pdf_text(render_pdf(letter_for()), tmp_path, first=1).split())
    assert first.startswith("Local Government & Social Care OMBUDSMAN 22 July 2020")


def test_pdf_render_logs_no_warnings(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="weasyprint"):
        render_pdf(letter_for(start_year=2022, population=80_000))
    assert [r.getMessage() for r in caplog.records if r.name.startswith("weasyprint")] == []


def test_same_letter_renders_to_the_same_bytes() -> None:
    first, second = render_letter(letter_for()), render_letter(letter_for())
    assert digests(first) == digests(second)


def test_digests_are_the_sha256_of_each_artefact() -> None:
    rendered = render_letter(letter_for())
    found = digests(rendered)
    assert found.pdf_sha256 == hashlib.sha256(rendered.pdf).hexdigest()
    assert found.text_sha256 == hashlib.sha256(rendered.text.encode()).hexdigest()
    assert found.html_sha256 == hashlib.sha256(rendered.html.encode()).hexdigest()
    assert rendered.pdf.startswith(b"%PDF-")


def test_template_version_is_recorded_and_short_enough_for_the_event() -> None:
    version = template_version()
    assert re.fullmatch(r"letters-\d+\+[0-9a-f]{12}", version)
    assert render_letter(letter_for()).template_version == version


def test_html_carries_a_chart_per_figure_and_none_for_a_zero_case() -> None:
    assert render_html(letter_for()).count("<svg") == 3
    no_compliance = CouncilYearCounts(upheld=1, not_upheld=1)
    assert render_html(letter_for(no_compliance)).count("<svg") == 2


def test_html_needs_nothing_from_outside() -> None:
    html = render_html(letter_for())
    assert not re.search(r"""(src|href)=["'](?!https://www\.lgo\.org\.uk/)""", html)
    assert "<link" not in html and "@import" not in html


def test_html_base_line_never_splits_a_date_across_lines() -> None:
    html = render_html(letter_for())
    assert "between 1\u00a0April\u00a02019 to 31\u00a0March\u00a02020" in html
    assert "\u00a0" not in render_text(letter_for())  # the text letter keeps plain spaces
