"""The council's case list (services/domain/case_list.py) and its files
(services/letters/case_list_files.py): the tables come from the explanation, their totals
are the letter's figures, no cell is ever a formula, the same list is the same bytes."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from typing import Any

import pytest
from openpyxl import load_workbook

from contracts.financial_year import FinancialYear
from services.domain.case_list import (
    LEFT_OUT,
    SHEET_NAMES,
    SUMMARY,
    CaseListMismatch,
    case_list,
    letter_figure,
)
from services.domain.explanation import STATISTICS, Refusal, explain
from services.domain.fold import CaseEvent
from services.letters.case_list_files import csv_bytes, csv_text, write, xlsx_bytes
from services.readmodel.counters import COUNTERS
from tests.support.casework import (
    complied,
    corrected,
    council,
    decided,
    expected_figures,
    history,
    random_casework,
    withdrawn,
)

Y = FinancialYear(2019)
D, E = date(2019, 6, 1), date(2020, 6, 1)
AT = datetime(2020, 7, 22, tzinfo=UTC)
EVIL = '=HYPERLINK("http://x.example","click")'


def counts(**kw: int) -> dict[str, int]:
    return dict.fromkeys(COUNTERS, 0) | kw


def a_year() -> tuple[list[CaseEvent], dict[str, int]]:
    lines = history(
        [
            council("AAA", "District"),
            decided("AAA", "up", D, "upheld", remedy=True),
            decided("AAA", "no", D, "not_upheld"),
            decided("AAA", "adv", D, "advice_given"),
            decided("AAA", "gone", D, "upheld"),
            withdrawn("AAA", "gone", D),
            decided("AAA", "moved", D, "upheld"),
            corrected("AAA", "moved", E, "upheld"),
            complied("AAA", "up", D),
            # the cut is here, at offset 9
            decided("AAA", "late", D, "upheld"),
        ]
    )
    letter = counts(upheld=1, not_upheld=1, advice_given=1, satisfactory_remedies=1,
                    compliance_outcomes=1, compliance_implemented=1)  # fmt: skip
    return lines, letter


def rows_of(sheet: Any) -> list[tuple[Any, ...]]:
    return list(sheet.rows)


def test_each_statistic_lists_the_cases_that_count_and_the_summary_totals_are_the_letters() -> None:
    lines, letter = a_year()
    x = explain("AAA", Y, lines, cuts={0: 9}, letter_counts=letter)
    t = case_list(x, letter, council_name="AAA Council", reference="AAA/2019-20/annual-review/v1",
                  service_areas={"up": "housing"})  # fmt: skip
    assert [s.name for s in t.sheets] == [SUMMARY, *SHEET_NAMES.values(), LEFT_OUT]
    upheld = t.sheet("Upheld").rows
    assert upheld[0][0] == "Case reference"
    assert upheld[1:] == (("up", D, "upheld", "yes", "Housing"),)
    assert [r[0] for r in t.sheet("Detailed investigations").rows[1:]] == ["no", "up"]
    assert t.sheet("Compliance outcomes").rows[1:] == (("up", D, "yes", "Housing"),)
    # The summary's figures are the letter's, statistic by statistic, and the cases listed.
    summary = {
        r[3]: (r[1], r[2]) for r in t.sheet(SUMMARY).rows if len(r) == 4 and r[0] != "Statistic"
    }
    for stat in STATISTICS:
        assert summary[SHEET_NAMES[stat]] == (letter_figure(letter, stat),) * 2
        assert t.totals[stat] == letter_figure(letter, stat)


def test_the_cases_left_out_are_listed_once_each_with_why() -> None:
    lines, letter = a_year()
    refused = Refusal(2, 4, None, "DecisionRecorded", "bad", "invalid", "no date", "open")
    x = explain("AAA", Y, lines, cuts={0: 9}, letter_counts=letter, refusals=[refused])
    t = case_list(x, letter, council_name="AAA Council", reference="r")
    left = {(r[0], r[2]) for r in t.sheet(LEFT_OUT).rows[1:]}
    assert left == {
        ("gone", "withdrawn"), ("moved", "outside the year"), ("late", "decided after the cut"),
        ("bad", "dead-lettered"),
    }  # fmt: skip
    # Once each, not once per statistic it is left out of; "another outcome" is not listed
    # (such a case is on its own statistic's sheet).
    assert len(t.sheet(LEFT_OUT).rows) == 1 + len(left)


def test_a_case_list_whose_cases_are_not_the_letters_figure_is_refused() -> None:
    lines, letter = a_year()
    x = explain("AAA", Y, lines, cuts={0: 9}, letter_counts=letter)
    with pytest.raises(CaseListMismatch, match="the letter says"):
        case_list(x, letter | {"not_upheld": 2}, council_name="AAA Council", reference="r")


def test_for_random_casework_every_sheet_has_the_letters_figure_of_cases() -> None:
    events = [council("AAA", "District"), *random_casework(["AAA"], 300, seed=11)]
    want = counts(**expected_figures(events).get(("AAA", 2019), {}))
    x = explain("AAA", Y, history(events), cuts={0: 10_000}, letter_counts=want)
    t = case_list(x, want, council_name="AAA Council", reference="r")
    for stat in STATISTICS:
        assert len(t.sheet(SHEET_NAMES[stat]).rows) - 1 == letter_figure(want, stat)


@pytest.mark.parametrize("text", ["=1+1", "+44 20", "-2", "@SUM(A1)", "\tx", "\rx", EVIL])
def test_a_formula_looking_text_is_quoted_in_the_csv(text: str) -> None:
    assert csv_text(text) == "'" + text
    assert csv_text("Mansfield") == "Mansfield" and csv_text(3) == "3" and csv_text(D) == str(D)


def evil_list() -> Any:
    """Text from outside: a council's registered name, a stored service area, and a refused
    message's case reference and detail (a dead letter's content is not validated)."""
    lines = history([council("AAA", "District"), decided("AAA", "1", D, "upheld")])
    letter = counts(upheld=1)
    refused = Refusal(0, 99, None, "DecisionRecorded", EVIL, "invalid", "@" + EVIL, "open")
    x = explain("AAA", Y, lines, cuts={0: 9}, letter_counts=letter, refusals=[refused])
    return case_list(x, letter, council_name="=cmd|' /C calc'!A0", reference="r",
                     service_areas={"1": "-1+1"})  # fmt: skip


def test_no_cell_of_the_workbook_is_a_formula_and_the_text_reads_back_as_written() -> None:
    wb = load_workbook(io.BytesIO(xlsx_bytes(evil_list(), AT)))
    cells = [
        c for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value is not None
    ]
    assert cells and all(c.data_type != "f" for c in cells)
    upheld = rows_of(wb["Upheld"])
    assert [c.value for c in upheld[1]] == ["1", datetime(2019, 6, 1), "upheld", "no", "-1+1"]
    assert wb[SUMMARY]["B1"].value == "=cmd|' /C calc'!A0 (AAA)"
    left = [c.value for c in rows_of(wb[LEFT_OUT])[1]]
    assert left[0] == EVIL and left[3].endswith("@" + EVIL)


def test_the_csv_quotes_formula_looking_text_and_names_each_rows_sheet() -> None:
    raw = csv_bytes(evil_list())
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    upheld = [r for r in rows if r[0] == "Upheld"]
    assert upheld[1] == ["Upheld", "1", str(D), "upheld", "no", "'-1+1"]
    left = [r for r in rows if r[0] == LEFT_OUT]
    assert left[1][:3] == [LEFT_OUT, "'" + EVIL, "decision"]
    assert not any(cell.startswith(("=", "+", "-", "@")) for r in rows for cell in r)


def test_the_same_case_list_is_the_same_bytes_whenever_it_is_written() -> None:
    t = evil_list()
    first = write(t, AT)
    again = write(t, AT)
    assert first.xlsx == again.xlsx and first.csv == again.csv
    assert first.xlsx_sha256 == again.xlsx_sha256
    assert write(t, datetime(2021, 1, 1, tzinfo=UTC)).xlsx != first.xlsx  # the date is in it


def test_an_independent_reader_reads_the_workbook_with_the_formula_looking_text_as_text() -> None:
    from python_calamine import CalamineWorkbook

    t = evil_list()
    wb = CalamineWorkbook.from_filelike(io.BytesIO(xlsx_bytes(t, AT)))
    assert wb.sheet_names == [s.name for s in t.sheets]
    left = wb.get_sheet_by_name(LEFT_OUT).to_python()
    assert left[1][0] == EVIL  # the text, not a formula's value
    upheld = wb.get_sheet_by_name("Upheld").to_python()
    assert upheld[1][:2] == ["1", D]
