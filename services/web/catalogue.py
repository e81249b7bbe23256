"""Everything the site shows, built in memory from what is published (pure: no I/O).

Each council-year's figures are those of its latest sent letter: the letter is rebuilt from
the inputs it was made from (``LetterInputs``), so the page prints the letter's own
sentences and the same group average the letter printed. A council-year with no sent
letter is ``under_review`` and carries no figures.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime
from fractions import Fraction

from contracts.events import ServiceArea
from contracts.financial_year import FinancialYear
from contracts.groups import ComparisonGroup
from contracts.values import on_decisions_host
from services.domain.letter import Letter
from services.domain.letter_inputs import LetterInputs
from services.domain.statistics import (
    CouncilYearCounts,
    GroupAverages,
    one_decimal,
    percent,
)
from services.web.area_reads import AreaRow, Areas
from services.web.published_reads import CouncilYearRow, GroupRow, Published, VersionRow

PUBLISHED = "published"
UNDER_REVIEW = "under_review"


@dataclass(frozen=True, slots=True)
class Figures:
    """One council-year's numbers as its letter printed them (percentages rounded half up)."""

    counts: CouncilYearCounts
    population: int | None
    uphold: int | None
    compliance: int | None
    remedy: int | None
    upheld_per_100k: str | None  # only for letter years that print it (2022-23 on)
    average_uphold: int | None
    average_compliance: int | None
    average_remedy: int | None
    average_upheld_per_100k: str | None


@dataclass(frozen=True, slots=True)
class AreaLine:
    """A row of a council-year's service-area table."""

    label: str  # the area's name as the Ombudsman prints it
    decisions: int
    upheld: int


@dataclass(frozen=True, slots=True)
class UpheldDecision:
    case_reference: str
    area: str  # label, or "Not recorded"
    url: str


NOT_RECORDED = "Not recorded"


def area_label(value: str | None) -> str:
    """A stored service area as the page prints it (an unknown value is printed as stored)."""
    if value is None:
        return NOT_RECORDED
    try:
        return ServiceArea(value).label
    except ValueError:
        return value


def _area_order(value: str | None) -> int:
    order = [a.value for a in ServiceArea]
    return order.index(value) if value in order else len(order)


@dataclass(frozen=True, slots=True)
class CouncilYearPage:
    code: str
    name: str
    group: ComparisonGroup
    year: FinancialYear
    existed_from: date | None
    existed_until: date | None
    status: str
    version: int | None
    sent_at: datetime | None
    letter: Letter | None
    figures: Figures | None
    versions: tuple[VersionRow, ...] = ()
    # By service area (docs/domain.md §16), when the published year has them; and the upheld
    # decisions whose statements the Ombudsman published.
    service_areas: tuple[AreaLine, ...] = ()
    upheld_decisions: tuple[UpheldDecision, ...] = ()
    place: tuple[float, float] | None = None  # latitude, longitude (the open data's columns)

    def area_counts(self, area: ServiceArea) -> AreaLine | None:
        """The area's line; None when the year has no service areas for this council."""
        if not self.service_areas:
            return None
        return next(
            (a for a in self.service_areas if a.label == area.label), AreaLine(area.label, 0, 0)
        )

    @property
    def published(self) -> bool:
        return self.status == PUBLISHED


@dataclass(frozen=True, slots=True)
class YearEntry:
    year: FinancialYear
    letter_date: date
    publication_date: date
    published_at: datetime
    groups: dict[ComparisonGroup, GroupAverages]
    councils: tuple[CouncilYearPage, ...]  # by name

    def group_percent(self, group: ComparisonGroup, statistic: str) -> int | None:
        averages = self.groups.get(group)
        return None if averages is None else percent(getattr(averages, statistic))

    def group_per_100k(self, group: ComparisonGroup) -> str | None:
        averages = self.groups.get(group)
        return None if averages is None else one_decimal(averages.upheld_per_100k)

    @property
    def has_per_100k(self) -> bool:
        return any(c.figures and c.figures.upheld_per_100k for c in self.councils)


@dataclass(frozen=True, slots=True)
class CouncilEntry:
    code: str
    name: str  # as in its latest published year
    group: ComparisonGroup
    existed_until: date | None
    years: dict[FinancialYear, CouncilYearPage]  # newest first
    successors: tuple[str, ...] = ()  # codes of the councils that replaced it, if abolished
    place: tuple[float, float] | None = None  # latitude, longitude: where the map shows it

    @property
    def latest(self) -> CouncilYearPage:
        return next(iter(self.years.values()))


@dataclass(frozen=True, slots=True)
class Catalogue:
    years: dict[FinancialYear, YearEntry]  # newest first
    councils: dict[str, CouncilEntry]  # by code
    version: str  # changes whenever anything shown changes
    last_modified: datetime | None

    @property
    def latest_year(self) -> YearEntry | None:
        return next(iter(self.years.values()), None)

    def search(self, query: str) -> list[CouncilEntry]:
        """Councils whose code is ``query`` or whose name contains it (case-insensitive)."""
        q = " ".join(query.split()).casefold()
        if not q:
            return []
        exact = [c for c in self.councils.values() if c.code.casefold() == q]
        named = [c for c in self.councils.values() if q in c.name.casefold() and c not in exact]
        return exact + sorted(named, key=lambda c: c.name)


def _fraction(pair: tuple[int, int] | None) -> Fraction | None:
    return None if pair is None or pair[1] == 0 else Fraction(pair[0], pair[1])


def group_averages(row: GroupRow) -> GroupAverages:
    a = row.averages
    return GroupAverages(
        group=ComparisonGroup(row.group),
        year=row.year,
        councils=row.councils,
        uphold_rate=_fraction(a["uphold"]),
        compliance_rate=_fraction(a["compliance"]),
        satisfactory_remedy_rate=_fraction(a["remedy"]),
        upheld_per_100k=_fraction(a["upheld_per_100k"]),
    )


def _letter(inputs: LetterInputs, version: int) -> Letter | None:
    try:
        return inputs.letter(version)
    except ValueError:  # a letter year this code cannot print (its figures still show)
        return None


def _figures(inputs: LetterInputs, letter: Letter | None) -> Figures:
    counts = CouncilYearCounts(**inputs.counts)
    avg = {k: _fraction(tuple(v) if v else None) for k, v in inputs.averages.items()}  # type: ignore[arg-type]
    residents = letter.uphold.per_100k if letter is not None else None
    return Figures(
        counts=counts,
        population=inputs.population,
        uphold=percent(counts.uphold_rate),
        compliance=percent(counts.compliance_rate),
        remedy=percent(counts.satisfactory_remedy_rate),
        upheld_per_100k=residents.figure if residents else None,
        average_uphold=percent(avg.get("uphold_rate")),
        average_compliance=percent(avg.get("compliance_rate")),
        average_remedy=percent(avg.get("satisfactory_remedy_rate")),
        average_upheld_per_100k=residents.average if residents else None,
    )


def council_year(row: CouncilYearRow, versions: Iterable[VersionRow]) -> CouncilYearPage:
    letter = figures = None
    if row.inputs is not None and row.version is not None:
        inputs = LetterInputs.from_json({**row.inputs, "addressee": None})
        letter = _letter(inputs, row.version)
        figures = _figures(inputs, letter)
    return CouncilYearPage(
        code=row.council,
        name=row.name,
        group=ComparisonGroup(row.group),
        year=row.year,
        existed_from=row.existed_from,
        existed_until=row.existed_until,
        status=PUBLISHED if figures is not None else UNDER_REVIEW,
        version=row.version,
        sent_at=row.sent_at,
        letter=letter,
        figures=figures,
        versions=tuple(sorted(versions, key=lambda v: -v.version)),
    )


def build_catalogue(published: Published, version_key: object = None) -> Catalogue:
    versions: dict[tuple[str, FinancialYear], list[VersionRow]] = {}
    for v in published.versions:
        versions.setdefault((v.council, v.year), []).append(v)
    pages = _with_areas(
        [council_year(r, versions.get((r.council, r.year), ())) for r in published.council_years],
        published.areas,
    )
    groups: dict[FinancialYear, dict[ComparisonGroup, GroupAverages]] = {}
    for g in published.groups:
        groups.setdefault(g.year, {})[ComparisonGroup(g.group)] = group_averages(g)
    years = {
        y.year: YearEntry(
            year=y.year,
            letter_date=y.letter_date,
            publication_date=y.publication_date,
            published_at=y.published_at,
            groups=groups.get(y.year, {}),
            councils=tuple(
                sorted((p for p in pages if p.year == y.year), key=lambda p: (p.name, p.code))
            ),
        )
        for y in sorted(published.years, key=lambda y: y.year, reverse=True)
    }
    by_code: dict[str, list[CouncilYearPage]] = {}
    for p in pages:
        by_code.setdefault(p.code, []).append(p)
    councils = {}
    for code, own in sorted(by_code.items()):
        own.sort(key=lambda p: p.year, reverse=True)
        councils[code] = CouncilEntry(
            code=code,
            name=own[0].name,
            group=own[0].group,
            existed_until=own[0].existed_until,
            years={p.year: p for p in own},
            successors=published.successors.get(code, ()),
            place=published.areas.places.get(code),
        )
    stamps = [y.published_at for y in published.years] + [
        v.sent_at for v in published.versions if v.sent_at is not None
    ]
    digest = hashlib.sha256(repr(version_key).encode()).hexdigest()[:16]
    return Catalogue(
        years=years,
        councils=councils,
        version=digest,
        last_modified=max(stamps) if stamps else None,
    )


def _with_areas(pages: list[CouncilYearPage], areas: Areas) -> list[CouncilYearPage]:
    """Each page with its service-area lines (in the Ombudsman's order, "Not recorded"
    last) and its published upheld decisions (by case reference)."""
    lines: dict[tuple[str, FinancialYear], list[AreaRow]] = {}
    for a in areas.areas:
        lines.setdefault((a.council, a.year), []).append(a)
    upheld: dict[tuple[str, FinancialYear], list[UpheldDecision]] = {}
    for u in areas.upheld:
        if not _linkable(u.published_url):
            continue
        upheld.setdefault((u.council, u.year), []).append(
            UpheldDecision(u.case_reference, area_label(u.service_area), u.published_url)
        )
    out = []
    for p in pages:
        own = sorted(lines.get((p.code, p.year), ()), key=lambda a: _area_order(a.service_area))
        out.append(
            replace(
                p,
                service_areas=tuple(
                    AreaLine(area_label(a.service_area), a.decisions, a.upheld) for a in own
                ),
                upheld_decisions=tuple(upheld.get((p.code, p.year), ())),
                place=areas.places.get(p.code),
            )
        )
    return out


def _linkable(url: str) -> bool:
    """Only the Ombudsman's own site is linked, even if a stored address says otherwise (the
    contract refused any other; a host setting changed since is honoured here too)."""
    try:
        on_decisions_host(url)
    except ValueError:
        return False
    return True
