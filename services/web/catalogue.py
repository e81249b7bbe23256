"""Everything the site shows, built in memory from what is published (pure: no I/O).

Each council-year's figures are those of its latest sent letter: the letter is rebuilt from
the inputs it was made from (``LetterInputs``), so the page prints the letter's own
sentences and the same group average the letter printed. A council-year with no sent
letter is ``under_review`` and carries no figures.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from fractions import Fraction

from contracts.financial_year import FinancialYear
from contracts.groups import ComparisonGroup
from services.domain.letter import Letter
from services.domain.letter_inputs import LetterInputs
from services.domain.statistics import (
    CouncilYearCounts,
    GroupAverages,
    one_decimal,
    percent,
)
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
    pages = [
        council_year(r, versions.get((r.council, r.year), ())) for r in published.council_years
    ]
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
