"""The council's case list: the case-level data behind a letter, as tables a council can
open in a spreadsheet (services/letters/case_list_files.py writes them as XLSX and CSV).

Pure, and made from the same explanation as ``annual-review explain``
(services/domain/explanation.py): nothing here decides again whether a case counts. The
tables are

- a summary: for each statistic, the letter's figure and the number of cases listed for it
  (always equal: a case list whose totals differ from its letter is refused, never sent);
- one table per statistic: the cases that count in it (case reference, decision date,
  outcome, remedy, service area);
- the cases left out, with why (withdrawn, outside the year, decided after the cut,
  parked, dead-lettered, refused as a conflict, a compliance outcome recorded late). A case
  that counts in another statistic (its outcome is another) is not "left out": it is on
  that statistic's table.

The rules are docs/domain.md ("The council's case list").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from contracts.events import ServiceArea
from contracts.financial_year import FinancialYear
from services.domain.explanation import (
    LABELS,
    NOT_AN_INVESTIGATION,
    OTHER_OUTCOME,
    Explanation,
    Figure,
    LeftOut,
)

# A spreadsheet cell: text, a whole number, a date, or empty.
Cell = str | int | date | None
Row = tuple[Cell, ...]

SUMMARY = "Summary"
LEFT_OUT = "Left out"
NOT_RECORDED = "Not recorded"

# Each statistic's sheet (Excel allows 31 characters in a sheet's name).
SHEET_NAMES: dict[str, str] = {
    "investigations": "Detailed investigations",
    "upheld": "Upheld",
    "not_upheld": "Not upheld",
    "satisfactory_remedies": "Satisfactory remedies",
    "advice_given": "Advice given",
    "closed_after_initial_enquiries": "Closed after initial enquiries",
    "incomplete_or_invalid": "Incomplete or invalid",
    "referred_back_for_local_resolution": "Referred back for local res.",
    "compliance_outcomes": "Compliance outcomes",
    "compliance_implemented": "Compliance implemented",
}

DECISION_HEADER: Row = (
    "Case reference", "Decision date", "Outcome", "Satisfactory remedy by the council",
    "Service area",
)  # fmt: skip
COMPLIANCE_HEADER: Row = ("Case reference", "Recorded on", "Recommendations implemented",
                          "Service area")  # fmt: skip
SUMMARY_HEADER: Row = ("Statistic", "Letter's figure", "Cases listed", "Sheet")
LEFT_OUT_HEADER: Row = ("Case reference", "Kind", "Reason", "Why")

# Reasons that only say the case counts under another statistic of the same year.
_COUNTS_ELSEWHERE = {OTHER_OUTCOME, NOT_AN_INVESTIGATION}


class CaseListMismatch(ValueError):
    """The cases listed for a statistic are not the letter's figure: a case list that
    cannot be right is refused (the letter is then not sent; an operator looks)."""


@dataclass(frozen=True, slots=True)
class Sheet:
    name: str
    rows: tuple[Row, ...]  # the first row with a "Case reference" or "Statistic" is the header


@dataclass(frozen=True, slots=True)
class CaseList:
    council: str
    year: FinancialYear
    sheets: tuple[Sheet, ...]
    # statistic -> the letter's figure (= the cases listed on its sheet)
    totals: dict[str, int]

    def sheet(self, name: str) -> Sheet:
        return next(s for s in self.sheets if s.name == name)


def letter_figure(counts: Mapping[str, int], statistic: str) -> int:
    """The letter's figure of a statistic from its counts (``investigations`` is upheld +
    not upheld, as the letter prints it)."""
    if statistic == "investigations":
        return counts["upheld"] + counts["not_upheld"]
    return counts[statistic]


def case_list(
    explanation: Explanation,
    letter_counts: Mapping[str, int],
    *,
    council_name: str,
    reference: str,
    service_areas: Mapping[str, str | None] | None = None,
) -> CaseList:
    """The case list of the letter ``reference`` whose figures are ``letter_counts``.

    ``explanation``: the council-year explained at the year's cut (or live, for a re-issue
    made from the live figures); ``service_areas``: case reference -> the stored service
    area (None or absent: not recorded). Raises CaseListMismatch when a statistic's cases
    are not the letter's figure."""
    areas = service_areas or {}
    totals: dict[str, int] = {}
    summary: list[Row] = [
        ("Council", f"{council_name} ({explanation.council})"),
        ("Financial year", str(explanation.year)),
        ("Letter", reference),
        (
            "Figures",
            "the letter's: the year's snapshot at its close"
            if explanation.cut
            else "the live figures the letter was made from",
        ),
        (),
        SUMMARY_HEADER,
    ]
    sheets: list[Sheet] = []
    for f in explanation.figures:
        figure = letter_figure(letter_counts, f.statistic)
        if len(f.members) != figure:
            raise CaseListMismatch(
                f"{explanation.council} {explanation.year}: {len(f.members)} cases counted in "
                f"{f.statistic}, the letter says {figure}"
            )
        totals[f.statistic] = figure
        name = SHEET_NAMES[f.statistic]
        summary.append((LABELS[f.statistic], figure, len(f.members), name))
        sheets.append(Sheet(name, (_header(f), *_member_rows(f, areas))))
    left = _left_out_rows(explanation.figures)
    summary.append(("Cases left out (with why)", None, len(left), LEFT_OUT))
    return CaseList(
        council=explanation.council,
        year=explanation.year,
        sheets=(Sheet(SUMMARY, tuple(summary)), *sheets, Sheet(LEFT_OUT, (LEFT_OUT_HEADER, *left))),
        totals=totals,
    )


def _is_compliance(f: Figure) -> bool:
    return f.statistic.startswith("compliance")


def _header(f: Figure) -> Row:
    return COMPLIANCE_HEADER if _is_compliance(f) else DECISION_HEADER


def _member_rows(f: Figure, areas: Mapping[str, str | None]) -> list[Row]:
    rows: list[Row] = []
    for m in f.members:
        s = m.state
        area = area_label(areas.get(s.case_reference))
        if s.is_compliance:
            rows.append((s.case_reference, s.decision_date, _yes(bool(s.implemented)), area))
        else:
            rows.append((s.case_reference, s.decision_date, outcome_label(s.outcome),
                         _yes(s.satisfactory_remedy), area))  # fmt: skip
    return rows


def _left_out_rows(figures: Sequence[Figure]) -> list[Row]:
    """Each case left out once per reason (it is left out of every statistic alike)."""
    seen: set[tuple[str | None, str, str]] = set()
    rows: list[Row] = []
    for f in figures:
        for o in f.left_out:
            if o.reason in _COUNTS_ELSEWHERE:
                continue
            key = (o.case_reference, o.reason, o.why)
            if key in seen:
                continue
            seen.add(key)
            rows.append((o.case_reference or "(not known)", _kind(o, f), o.reason, o.why))
    return rows


def _kind(o: LeftOut, f: Figure) -> str:
    if o.refusal is not None:
        return "compliance outcome" if o.refusal.is_compliance else "decision"
    if o.history:
        return "compliance outcome" if o.history[0].is_compliance else "decision"
    return "compliance outcome" if _is_compliance(f) else "decision"


def outcome_label(outcome: str | None) -> str:
    return (outcome or "").replace("_", " ")


def area_label(value: str | None) -> str:
    """A stored service area as the Ombudsman's reports name it (an unknown value as
    stored; none: "Not recorded")."""
    if value is None:
        return NOT_RECORDED
    try:
        return ServiceArea(value).label
    except ValueError:
        return value


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"
