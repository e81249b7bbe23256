"""Open data: one row per council for a published year, as CSV and JSON, with its columns
documented in one place (the data page and docs/web.md print this list)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from contracts.events import ServiceArea
from services.web.catalogue import NOT_RECORDED, CouncilYearPage, YearEntry

ATTRIBUTION = (
    "Council names and codes: mySociety, UK Local Authority Names and Codes, "
    "licensed under CC BY 4.0 (https://creativecommons.org/licenses/by/4.0/)."
)
LICENCE_URL = "https://creativecommons.org/licenses/by/4.0/"


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    description: str
    value: Callable[[CouncilYearPage, YearEntry, str], Any]


def _count(key: str) -> Callable[[CouncilYearPage, YearEntry, str], Any]:
    return lambda c, _y, _b: getattr(c.figures.counts, key) if c.figures else None


def _fig(key: str) -> Callable[[CouncilYearPage, YearEntry, str], Any]:
    return lambda c, _y, _b: getattr(c.figures, key) if c.figures else None


def _group_avg(statistic: str) -> Callable[[CouncilYearPage, YearEntry, str], Any]:
    return lambda c, y, _b: y.group_percent(c.group, statistic)


def _letter(kind: str) -> Callable[[CouncilYearPage, YearEntry, str], Any]:
    def value(c: CouncilYearPage, y: YearEntry, base: str) -> str | None:
        if c.version is None:
            return None
        return f"{base}/councils/{c.code}/letters/{y.year.label}/v{c.version}.{kind}"

    return value


def _place(c: CouncilYearPage, i: int) -> float | None:
    return None if c.place is None else c.place[i]


def _area(area: ServiceArea | None, key: str) -> Callable[[CouncilYearPage, YearEntry, str], Any]:
    def value(c: CouncilYearPage, _y: YearEntry, _b: str) -> int | None:
        if not c.service_areas:
            return None
        if area is None:
            line = next((a for a in c.service_areas if a.label == NOT_RECORDED), None)
            return 0 if line is None else int(getattr(line, key))
        found = c.area_counts(area)
        return None if found is None else int(getattr(found, key))

    return value


COLUMNS: tuple[Column, ...] = (
    Column("financial_year", "The financial year, 1 April to 31 March (2019-20).",
           lambda c, y, _b: y.year.label),
    Column("council_code", "The council's code.", lambda c, _y, _b: c.code),
    Column("council_name", "The council's name.", lambda c, _y, _b: c.name),
    Column("comparison_group", "County, District, Metropolitan Borough, Unitary or London Borough.",
           lambda c, _y, _b: c.group.value),
    Column("status", "published, or under_review while the council's letter is held "
           "(then every figure below is empty).", lambda c, _y, _b: c.status),
    Column("letter_version", "The version of the letter the figures come from (2 or more: "
           "re-issued).", lambda c, _y, _b: c.version),
    Column("upheld", "Upheld decisions.", _count("upheld")),
    Column("not_upheld", "Not upheld decisions.", _count("not_upheld")),
    Column("detailed_investigations", "Upheld plus not upheld: the base of the uphold rate.",
           lambda c, _y, _b: c.figures.counts.detailed_investigations if c.figures else None),
    Column("advice_given", "Decisions: advice given.", _count("advice_given")),
    Column("closed_after_initial_enquiries", "Decisions: closed after initial enquiries.",
           _count("closed_after_initial_enquiries")),
    Column("incomplete_or_invalid", "Decisions: incomplete or invalid.",
           _count("incomplete_or_invalid")),
    Column("referred_back_for_local_resolution", "Decisions: referred back for local resolution.",
           _count("referred_back_for_local_resolution")),
    Column("satisfactory_remedies", "Upheld decisions where the council had already provided a "
           "satisfactory remedy.", _count("satisfactory_remedies")),
    Column("compliance_outcomes", "Compliance outcomes recorded in the year.",
           _count("compliance_outcomes")),
    Column("compliance_implemented", "Of those, recommendations implemented (late counts).",
           _count("compliance_implemented")),
    Column("uphold_rate_percent", "Upheld / detailed investigations, whole percent, half up; "
           "empty without investigations.", _fig("uphold")),
    Column("compliance_rate_percent", "Implemented / compliance outcomes, whole percent.",
           _fig("compliance")),
    Column("satisfactory_remedy_rate_percent", "Satisfactory remedies / upheld, whole percent.",
           _fig("remedy")),
    Column("upheld_per_100k", "Upheld decisions per 100,000 residents, as the letter printed "
           "it (letters from 2023, for 2022-23 on).", _fig("upheld_per_100k")),
    Column("population", "The population the letter used.", _fig("population")),
    Column("group_uphold_rate_percent", "The comparison group's average uphold rate.",
           _group_avg("uphold_rate")),
    Column("group_compliance_rate_percent", "The group's average compliance rate.",
           _group_avg("compliance_rate")),
    Column("group_satisfactory_remedy_rate_percent", "The group's average satisfactory-remedy "
           "rate.", _group_avg("satisfactory_remedy_rate")),
    Column("group_upheld_per_100k", "The group's average upheld decisions per 100,000 residents.",
           lambda c, y, _b: y.group_per_100k(c.group) if y.has_per_100k else None),
    Column("letter_html_url", "The letter as sent, HTML.", _letter("html")),
    Column("letter_pdf_url", "The letter as sent, PDF.", _letter("pdf")),
    Column("latitude", "Where the council is, degrees north (the council register's "
           "coordinates); empty when the register gives none.", lambda c, _y, _b: _place(c, 0)),
    Column("longitude", "Degrees east (west negative); with latitude.",
           lambda c, _y, _b: _place(c, 1)),
    *(
        column
        for area in ServiceArea
        for column in (
            Column(f"decisions_{area.value}", f"Decisions filed under “{area.label}”, standing "
                   "when the year was published; empty when the year has no service areas.",
                   _area(area, "decisions")),
            Column(f"upheld_{area.value}", f"Of those, upheld decisions ({area.label}).",
                   _area(area, "upheld")),
        )
    ),
    Column("decisions_area_not_recorded", "Decisions whose service area the case system did "
           "not give.", _area(None, "decisions")),
    Column("upheld_area_not_recorded", "Of those, upheld decisions.", _area(None, "upheld")),
)  # fmt: skip


def rows(year: YearEntry, base_url: str) -> list[dict[str, Any]]:
    base = base_url.rstrip("/")
    return [{col.name: col.value(c, year, base) for col in COLUMNS} for c in year.councils]


def _cell(value: Any) -> Any:
    """Empty for no figure; text that a spreadsheet would run as a formula (a council name
    from an event starting with ``=``, ``+``, ``-`` or ``@``) gets a leading apostrophe."""
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def as_csv(year: YearEntry, base_url: str) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=[c.name for c in COLUMNS], lineterminator="\r\n")
    writer.writeheader()
    for row in rows(year, base_url):
        writer.writerow({k: _cell(v) for k, v in row.items()})
    return out.getvalue()


def as_json(year: YearEntry, base_url: str) -> dict[str, Any]:
    return {
        "financial_year": year.year.label,
        "publication_date": year.publication_date.isoformat(),
        "attribution": ATTRIBUTION,
        "licence": LICENCE_URL,
        "columns": {c.name: c.description for c in COLUMNS},
        "councils": rows(year, base_url),
    }
