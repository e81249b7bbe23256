"""The rendered letter: text against the Ombudsman's real 2020 letter, HTML escaping, PDF
layout and the renderer's refusals (missing values, missing or outside assets)."""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import itertools
import logging
import re
import shutil
import subprocess
import sys
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser
from pathlib import Path

import jinja2
import pytest

from contracts.values import ChiefExecutive
from services.domain.letter import Letter
from services.domain.statistics import CouncilYearCounts
from services.letters.render import (
    LetterRenderError,
    digests,
    environment,
    html_to_pdf,
    render_html,
    render_letter,
    render_pdf,
    render_print_html,
    render_text,
    template_version,
)
from tests.support.letters import mansfield_letter

REPO = Path(__file__).resolve().parents[2]
REFERENCE = REPO.parent / "shared" / "reference" / "annual-review-letter-2020.txt"

HOSTILE = "<script>alert(1)</script> {{ 7*7 }}"


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
    assert_same_lines(reference_lines(), normalised_lines(render_text(mansfield_letter())))


def test_mansfield_2020_statistics_blocks_match_the_reference_exactly() -> None:
    reference = reference_lines()
    rendered = normalised_lines(render_text(mansfield_letter()))
    # The statistics follow the signatory's last title line.
    start = reference.index("Chair, Commission for Local Administration in England") + 1
    assert reference[start] == "Complaints upheld"
    assert_same_lines(reference[start:], rendered[start:])


def test_text_letter_ends_with_one_newline() -> None:
    text = render_text(mansfield_letter())
    assert text.endswith("2020\n") and not text.endswith("\n\n")


# --- year differences in the rendered text -------------------------------------------------


@pytest.mark.parametrize("start_year", [2019, 2020, 2021])
def test_text_letters_before_2023_have_no_per_100k_line(start_year: int) -> None:
    assert "per 100,000" not in render_text(
        mansfield_letter(start_year=start_year, population=10**5)
    )


def test_2023_text_letter_prints_the_per_100k_line_and_average() -> None:
    text = render_text(mansfield_letter(start_year=2022, population=50_000))
    assert (
        "Adjusted for Mansfield District Council's population, this is "
        "2 upheld decisions per 100,000 residents." in text
    )
    assert (
        "The average for authorities of this type is 1.2 upheld decisions per 100,000 residents."
        in text
    )


def test_2024_text_letter_says_a_total_of_n_investigations() -> None:
    text = render_text(mansfield_letter(start_year=2023, population=50_000))
    assert "Statistics are based on a total of 2 investigations for the period between" in text
    assert "detailed investigations" not in text


def test_2021_letter_is_addressed_by_name_and_says_the_council() -> None:
    lines = normalised_lines(render_text(mansfield_letter(start_year=2020)))
    assert lines[3:6] == ["Hayley Barsby", "Interim Chief Executive", "Mansfield District Council"]
    assert "Dear Ms Barsby" in lines
    assert (
        "In 100% of cases we were satisfied the Council had successfully implemented our "
        "recommendations." in lines
    )
    assert "Michael King" in lines


def test_zero_case_letter_reads_as_plain_sentences() -> None:
    lines = normalised_lines(render_text(mansfield_letter(CouncilYearCounts(advice_given=2), 2020)))
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
    text = render_text(mansfield_letter(CouncilYearCounts(upheld=1, not_upheld=7)))
    assert "13% of complaints we investigated were upheld." in text
    text = render_text(mansfield_letter(CouncilYearCounts(upheld=7, not_upheld=1)))
    assert "88% of complaints we investigated were upheld." in text


# --- escaping: names are text, never markup or template code -------------------------------


def hostile_letter(start_year: int) -> Letter:
    addressee = ChiefExecutive(
        name=f"Mr {HOSTILE}",
        job_title=f"Chief {HOSTILE}",
        salutation="Dear <b>X</b>",
        email="ce@example.gov.uk",
    )
    return mansfield_letter(
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
    html = render_print_html(hostile_letter(2021))  # the SVG charts are the PDF's
    titles = re.findall(r"<title>(.*?)</title>", html, flags=re.S)
    assert any("&lt;script&gt;" in title for title in titles[1:])


# --- the renderer refuses to guess ---------------------------------------------------------


def test_a_missing_template_variable_raises() -> None:
    template = environment().get_template("letter-2020.html.j2")
    with pytest.raises(jinja2.UndefinedError, match="charts"):
        template.render(letter=mansfield_letter(), medium="email")  # no charts given


def test_a_missing_attribute_of_the_letter_raises() -> None:
    template = environment().from_string("{{ letter.no_such_field }}")
    with pytest.raises(jinja2.UndefinedError):
        template.render(letter=mansfield_letter())


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
    pdf = render_pdf(mansfield_letter())
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
    first = " ".join(pdf_text(render_pdf(mansfield_letter()), tmp_path, first=1).split())
    assert first.startswith("Local Government & Social Care OMBUDSMAN 22 July 2020")


@pytest.mark.parametrize("start_year", [2019, 2023])
def test_an_unbroken_long_name_wraps_inside_the_page(start_year: int, tmp_path: Path) -> None:
    name = "Llanfairpwllgwyngyll" * 8 + " Council"
    addressee = ChiefExecutive(
        name="Dr " + "Featherstonehaugh" * 5,
        job_title="Chief Executive",
        salutation="Dr " + "Featherstonehaugh" * 5,
        email="ce@example.gov.uk",
    )
    letter = mansfield_letter(start_year=start_year, council_name=name, addressee=addressee)
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    path = tmp_path / "letter.pdf"
    path.write_bytes(render_pdf(letter))
    html = subprocess.run(
        ["pdftotext", "-bbox", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    right_edge = 595.28 - 20 * 72 / 25.4  # A4 less the right margin (letter.css), in points
    words = re.findall(r'xMax="([\d.]+)"[^>]*>([^<]*)</word>', html)
    assert any("Llanfair" in word for _, word in words)
    assert max(float(x_max) for x_max, _ in words) <= right_edge + 0.5


def test_pdf_render_logs_no_warnings(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="weasyprint"):
        render_pdf(mansfield_letter(start_year=2022, population=80_000))
    assert [r.getMessage() for r in caplog.records if r.name.startswith("weasyprint")] == []


def test_same_letter_renders_to_the_same_bytes() -> None:
    first, second = render_letter(mansfield_letter()), render_letter(mansfield_letter())
    assert digests(first) == digests(second)


def test_digests_are_the_sha256_of_each_artefact() -> None:
    rendered = render_letter(mansfield_letter())
    found = digests(rendered)
    assert found.pdf_sha256 == hashlib.sha256(rendered.pdf).hexdigest()
    assert found.text_sha256 == hashlib.sha256(rendered.text.encode()).hexdigest()
    assert found.html_sha256 == hashlib.sha256(rendered.html.encode()).hexdigest()
    assert rendered.pdf.startswith(b"%PDF-")


def test_template_version_is_recorded_and_short_enough_for_the_event() -> None:
    version = template_version()
    assert re.fullmatch(r"letters-\d+\+[0-9a-f]{12}", version)
    assert render_letter(mansfield_letter()).template_version == version


def test_print_html_carries_an_svg_chart_per_figure_and_none_for_a_zero_case() -> None:
    assert render_print_html(mansfield_letter()).count("<svg") == 3
    no_compliance = CouncilYearCounts(upheld=1, not_upheld=1)
    assert render_print_html(mansfield_letter(no_compliance)).count("<svg") == 2


def test_html_carries_a_table_chart_per_figure_and_none_for_a_zero_case() -> None:
    assert len(chart_texts(render_html(mansfield_letter()))) == 3
    no_compliance = CouncilYearCounts(upheld=1, not_upheld=1)
    assert len(chart_texts(render_html(mansfield_letter(no_compliance)))) == 2


@pytest.mark.parametrize("start_year", [2019, 2022, 2023])
def test_email_html_has_no_svg_and_shows_each_figure_as_text(start_year: int) -> None:
    """Outlook shows no inline SVG: the email's charts are table cells, their figures text."""
    counts = CouncilYearCounts(
        upheld=14, not_upheld=9, satisfactory_remedies=3, compliance_outcomes=12,
        compliance_implemented=11,
    )  # fmt: skip
    html = render_html(mansfield_letter(counts, start_year, population=110_000))
    assert "<svg" not in html.lower() and "image/svg" not in html
    assert chart_texts(html) == [
        "Your council 61% District Councils average 45%",
        "Your council 92% District Councils average 99%",
        "Your council 21% District Councils average 20%",
    ]
    # Each bar is a coloured cell as wide as its figure, in attributes Outlook reads.
    assert re.findall(r'<td width="(\d+)%" height="14" bgcolor="#1d5b79"', html) == [
        "61", "92", "21",
    ]  # fmt: skip


def test_email_html_says_no_figure_where_the_average_is_missing() -> None:
    letter = mansfield_letter(
        start_year=2022, uphold=None, compliance=None, remedy=None, average_per_100k=None
    )
    first = chart_texts(render_html(letter))[0]
    assert first == "Your council 50% District Councils average no figure"


@pytest.mark.parametrize("start_year", [2019, 2022, 2023])
@pytest.mark.parametrize("render", [render_html, render_print_html])
def test_headings_nest_without_a_gap(start_year: int, render: Callable[[Letter], str]) -> None:
    """h1, then h2s, and h3 only under an h2: the outline a screen reader reads."""
    levels = [
        int(n) for n in re.findall(r"<h([1-6])\b", render(mansfield_letter(start_year=start_year)))
    ]
    assert levels[0] == 1 and levels.count(1) == 1
    assert all(b <= a + 1 for a, b in itertools.pairwise(levels))
    assert len(levels) >= 6


def test_pdf_is_tagged_with_language_title_and_alt_text_for_each_chart(tmp_path: Path) -> None:
    letter = hostile_letter(2021)
    pdf = render_pdf(letter)
    path = tmp_path / "letter.pdf"
    path.write_bytes(pdf)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True).stdout
    assert re.search(r"^Tagged:\s+yes$", info, flags=re.M)
    assert f"Title:           {letter.title} – {HOSTILE} Council & Sons" in info
    objects = pdf_objects(pdf)
    assert b"/Lang (en-GB)" in objects
    assert b"/DisplayDocTitle true" in objects
    alts = [  # PDF literal strings escape parentheses and backslashes
        re.sub(rb"\\(.)", rb"\1", alt).decode("latin-1")
        for alt in re.findall(rb"/S /Figure.*?/Alt \((.*?)\)>>", objects, flags=re.S)
    ]
    assert alts == [
        f"{block.title}: {letter.council_name} {figure}, District Councils average {average}"
        for block, figure, average in zip(
            letter.blocks, ("50%", "100%", "0%"), ("45%", "99%", "20%"), strict=True
        )
    ]


def test_pdfs_rendered_in_threads_at_once_are_the_same_bytes() -> None:
    """With no render processes the service renders in threads: each has its own fonts."""
    letters = [mansfield_letter(start_year=y, population=90_000) for y in (2019, 2022, 2023)] * 2
    expected = [hashlib.sha256(render_pdf(one)).hexdigest() for one in letters]
    with ThreadPoolExecutor(4) as pool:
        found = list(pool.map(lambda one: hashlib.sha256(render_pdf(one)).hexdigest(), letters))
    assert found == expected


def test_pdf_bytes_do_not_depend_on_what_the_process_rendered_before() -> None:
    """The font configuration is shared by all a process renders: a re-issue rendered by a
    fresh process must still be the same bytes."""
    for warm_up in (mansfield_letter(start_year=2023, population=80_000), hostile_letter(2019)):
        render_pdf(warm_up)
    warm = hashlib.sha256(render_pdf(mansfield_letter(start_year=2022))).hexdigest()
    fresh = subprocess.run(
        [
            sys.executable,
            "-c",
            "import hashlib, tests.unit.test_letter_render as t; "
            "print(hashlib.sha256(t.render_pdf(t.mansfield_letter(start_year=2022))).hexdigest())",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    ).stdout.strip()
    assert warm == fresh


def chart_texts(html: str) -> list[str]:
    """The text of each email chart (table.bars), whitespace collapsed."""
    found: list[list[str]] = []
    depth = 0

    class Charts(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            nonlocal depth
            if tag == "table" and (depth or ("class", "bars") in attrs):
                if not depth:
                    found.append([])
                depth += 1

        def handle_endtag(self, tag: str) -> None:
            nonlocal depth
            if tag == "table" and depth:
                depth -= 1

        def handle_data(self, data: str) -> None:
            if depth:
                found[-1].append(data)

    Charts().feed(html)
    # Cells are read one by one (a screen reader pauses between them): join them by a space.
    return [" ".join(" ".join(parts).replace("\u00a0", " ").split()) for parts in found]


def pdf_objects(pdf: bytes) -> bytes:
    """The PDF's objects with every compressed stream inflated (WeasyPrint packs the
    structure tree into object streams)."""
    inflated = [pdf]
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", pdf, flags=re.S):
        with contextlib.suppress(zlib.error):
            inflated.append(zlib.decompress(stream))
    return b"\n".join(inflated)


def test_html_needs_nothing_from_outside() -> None:
    html = render_html(mansfield_letter())
    assert not re.search(r"""(src|href)=["'](?!https://www\.lgo\.org\.uk/)""", html)
    assert "<link" not in html and "@import" not in html


def test_html_base_line_never_splits_a_date_across_lines() -> None:
    html = render_html(mansfield_letter())
    assert "between 1\u00a0April\u00a02019 to 31\u00a0March\u00a02020" in html
    assert "\u00a0" not in render_text(mansfield_letter())  # the text letter keeps plain spaces
