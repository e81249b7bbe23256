"""What the site shows, built from published rows: the letter's own sentences and averages,
'under review' without a sent letter, versions newest first, CSV safe for spreadsheets."""

from __future__ import annotations

import csv
import io
from dataclasses import asdict
from datetime import UTC, date, datetime
from typing import Any

from contracts.financial_year import FinancialYear
from services.domain.letter_inputs import LetterInputs
from services.web import opendata
from services.web.catalogue import UNDER_REVIEW, build_catalogue
from services.web.chart import Point, year_chart
from services.web.published_reads import CouncilYearRow, GroupRow, Published, VersionRow, YearRow

Y = FinancialYear(2019)
SENT = datetime(2020, 7, 22, 9, tzinfo=UTC)
COUNTS = {
    "upheld": 1, "not_upheld": 1, "advice_given": 0, "closed_after_initial_enquiries": 0,
    "incomplete_or_invalid": 0, "referred_back_for_local_resolution": 0,
    "satisfactory_remedies": 0, "compliance_outcomes": 1, "compliance_implemented": 1,
}  # fmt: skip


def inputs(code: str, name: str) -> dict[str, Any]:
    raw = asdict(
        LetterInputs(
            council=code, council_name=name, group="District", year="2019-20", counts=COUNTS,
            population=109_351,
            averages={"uphold_rate": [9, 20], "compliance_rate": [99, 100],
                      "satisfactory_remedy_rate": [1, 5], "upheld_per_100k": None},
            group_councils=3, addressee=None, letter_date="2020-07-22",
            publication_date="2020-07-29",
            signatory={"name": "Michael King", "titles": ["Ombudsman"]},
        )
    )  # fmt: skip
    del raw["addressee"]  # the view leaves it out
    return raw


def row(code: str, name: str, version: int | None) -> CouncilYearRow:
    return CouncilYearRow(
        year=Y, council=code, name=name, group="District", existed_from=None,
        existed_until=date(2021, 3, 31) if code == "COR" else None,
        status="published" if version else "under_review", version=version,
        sent_at=SENT if version else None, inputs=inputs(code, name) if version else None,
    )  # fmt: skip


PUBLISHED = Published(
    years=[YearRow(Y, date(2020, 7, 22), date(2020, 7, 29), datetime(2020, 7, 28, 23, tzinfo=UTC))],
    groups=[GroupRow(Y, "District", "mean", 3, {"uphold": (9, 20), "compliance": (99, 100),
                                              "remedy": (1, 5), "upheld_per_100k": None})],
    council_years=[
        row("MAN", "Mansfield District Council", 2),
        row("ASH", "Ashfield District Council", None),
        row("EVL", "=HYPERLINK(\"x\") Council", 1),
        row("COR", "Corby Borough Council", 1),
    ],
    versions=[VersionRow("MAN", Y, 1, SENT), VersionRow("MAN", Y, 2, SENT),
              VersionRow("EVL", Y, 1, SENT), VersionRow("COR", Y, 1, SENT)],
)  # fmt: skip


def test_a_council_year_prints_its_letters_sentences_and_average() -> None:
    man = build_catalogue(PUBLISHED).councils["MAN"].years[Y]
    assert man.letter is not None and man.figures is not None
    assert man.letter.uphold.statement.text == "50% of complaints we investigated were upheld."
    assert man.letter.uphold.comparison and man.letter.uphold.comparison.text == (
        "This compares to an average of 45% in similar authorities."
    )
    assert (man.figures.uphold, man.figures.compliance, man.figures.remedy) == (50, 100, 0)
    assert man.figures.upheld_per_100k is None  # a 2020 letter prints no per-100,000 line
    assert [v.version for v in man.versions] == [2, 1] and man.version == 2
    assert man.letter.identity.version == 2


def test_without_a_sent_letter_a_council_year_is_under_review() -> None:
    ash = build_catalogue(PUBLISHED).councils["ASH"].years[Y]
    assert ash.status == UNDER_REVIEW and ash.figures is None and ash.letter is None


def test_search_by_code_or_part_of_the_name() -> None:
    catalogue = build_catalogue(PUBLISHED)
    assert [c.code for c in catalogue.search("man")] == ["MAN"]
    assert [c.code for c in catalogue.search("  district  ")] == ["ASH", "MAN"]
    assert catalogue.search("") == []


def test_the_open_data_rows_have_every_column_and_safe_cells() -> None:
    year = build_catalogue(PUBLISHED).years[Y]
    rows = list(csv.DictReader(io.StringIO(opendata.as_csv(year, "https://example.org/ycp/"))))
    assert list(rows[0]) == [c.name for c in opendata.COLUMNS]
    by_code = {r["council_code"]: r for r in rows}
    assert by_code["MAN"]["letter_pdf_url"] == (
        "https://example.org/ycp/councils/MAN/letters/2019-20/v2.pdf"
    )
    assert by_code["MAN"]["group_uphold_rate_percent"] == "45"
    assert by_code["ASH"]["status"] == "under_review" and by_code["ASH"]["upheld"] == ""
    assert by_code["EVL"]["council_name"].startswith("'=")  # never run as a formula
    data = opendata.as_json(year, "https://example.org")
    assert data["councils"][0]["council_name"] == '=HYPERLINK("x") Council'  # JSON: as it is
    assert "mySociety" in data["attribution"]


def test_the_chart_escapes_its_text_and_uses_no_style_attribute() -> None:
    svg = year_chart(
        '<b>"Evil"</b> Council', [Point("2019-20", 50, 45), Point("2020-21", None, 61)]
    )
    assert "<b>" not in svg and "&lt;b&gt;" in svg
    assert "style=" not in svg
    assert svg.count("<rect") == 3  # no bar where there is no figure
