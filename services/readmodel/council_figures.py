"""A council's figures and the comparison-group averages, live or as closed, read through
the ``readmodel`` views (so they see the active version)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import asyncpg

from contracts.financial_year import FinancialYear
from contracts.groups import ComparisonGroup
from services.domain.population import PopulationEstimate
from services.domain.statistics import (
    AveragingRule,
    CouncilYear,
    CouncilYearCounts,
    GroupAverages,
    group_averages,
    one_decimal,
    percent,
)
from services.platform.db import Conn
from services.readmodel.counters import COUNTERS, as_dict, counts_of
from services.readmodel.register_facts import council_state


@dataclass(frozen=True, slots=True)
class CouncilFigures:
    council: str
    name: str
    group: ComparisonGroup
    year: FinancialYear
    counts: CouncilYearCounts
    population: int | None  # the estimate the year uses
    population_year: int | None  # the year that estimate is for
    averages: GroupAverages
    late_events: int
    snapshot: CouncilYearCounts | None  # the closed year's figures, if closed
    open_dead_letters: int

    def as_dict(self) -> dict[str, Any]:
        c, a = self.counts, self.averages
        per100k = CouncilYear(self.council, self.year, self.group, c, self.population)
        return {
            "council": self.council,
            "name": self.name,
            "comparison_group": self.group.value,
            "financial_year": self.year.label,
            "counts": as_dict(c),
            "detailed_investigations": c.detailed_investigations,
            "uphold_rate_percent": percent(c.uphold_rate),
            "compliance_rate_percent": percent(c.compliance_rate),
            "satisfactory_remedy_rate_percent": percent(c.satisfactory_remedy_rate),
            "upheld_per_100k": one_decimal(per100k.upheld_per_100k),
            "population": self.population,
            "population_year": self.population_year,
            "group_average": averages_dict(a),
            "late_events": self.late_events,
            "open_dead_letters": self.open_dead_letters,
            "snapshot": as_dict(self.snapshot) if self.snapshot else None,
        }


def averages_dict(a: GroupAverages) -> dict[str, Any]:
    return {
        "comparison_group": a.group.value,
        "councils": a.councils,
        "uphold_rate_percent": percent(a.uphold_rate),
        "compliance_rate_percent": percent(a.compliance_rate),
        "satisfactory_remedy_rate_percent": percent(a.satisfactory_remedy_rate),
        "upheld_per_100k": one_decimal(a.upheld_per_100k),
    }


_SCHEMA = re.compile(r"^(readmodel|rm_v\d+)$")


def check_schema(schema: str) -> None:
    """The live views (``readmodel``) or one version's schema (a scratch version of
    ``stats --as-of``): nothing else is interpolated into the SQL below."""
    if not _SCHEMA.match(schema):
        raise ValueError(f"not a read-model schema: {schema!r}")


async def registered_councils(
    conn: Conn, year: FinancialYear, schema: str = "readmodel"
) -> list[asyncpg.Record]:
    """Every registered council with its live counts and late events in ``year`` (zeros
    where it has none), whether or not it existed then; by code."""
    check_schema(schema)
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT c.*, "
        + ", ".join(f"coalesce(s.{k}, 0) AS {k}" for k in COUNTERS)
        + ", coalesce(s.late_events, 0) AS late_events "
        f"FROM {schema}.councils c LEFT JOIN {schema}.council_year_stats s "
        "ON s.council = c.code AND s.financial_year = $1 ORDER BY c.code",
        year.start_year,
    )
    return rows


def population_for(row: asyncpg.Record, year: FinancialYear) -> PopulationEstimate | None:
    """The population estimate ``year`` uses, of a ``councils`` row (docs/domain.md §8)."""
    return council_state(row).population_for(year)


def member(row: asyncpg.Record, year: FinancialYear) -> CouncilYear:
    """A row of ``registered_councils`` as what the averages are made from."""
    estimate = population_for(row, year)
    return CouncilYear(
        row["code"],
        year,
        ComparisonGroup(row["comparison_group"]),
        counts_of(row),
        estimate.population if estimate else None,
    )


async def _members(
    conn: Conn, year: FinancialYear, schema: str = "readmodel"
) -> list[tuple[asyncpg.Record, CouncilYear]]:
    """The councils that existed during ``year``, each with its live figures."""
    return [
        (r, member(r, year))
        for r in await registered_councils(conn, year, schema)
        if year.overlaps(r["existed_from"], r["existed_until"])
    ]


async def live_averages(
    conn: Conn, year: FinancialYear, rule: AveragingRule, schema: str = "readmodel"
) -> dict[ComparisonGroup, GroupAverages]:
    """The comparison-group averages of the live figures, computed exactly."""
    return group_averages([m for _, m in await _members(conn, year, schema)], rule)


async def snapshot_averages(
    conn: Conn, year: FinancialYear
) -> dict[ComparisonGroup, GroupAverages]:
    """The comparison-group averages stored when the year's snapshot completed."""
    rows = await conn.fetch(
        "SELECT * FROM readmodel.year_snapshot_groups WHERE financial_year = $1", year.start_year
    )
    return {
        ComparisonGroup(r["comparison_group"]): GroupAverages(
            group=ComparisonGroup(r["comparison_group"]),
            year=year,
            councils=r["councils"],
            uphold_rate=fraction(r["uphold_num"], r["uphold_den"]),
            compliance_rate=fraction(r["compliance_num"], r["compliance_den"]),
            satisfactory_remedy_rate=fraction(r["remedy_num"], r["remedy_den"]),
            upheld_per_100k=fraction(r["upheld_per_100k_num"], r["upheld_per_100k_den"]),
        )
        for r in rows
    }


def fraction(num: Any, den: Any) -> Fraction | None:
    """A stored average (numerator, denominator); None where no council had a denominator."""
    return None if num is None else Fraction(int(num), int(den))


async def council_figures(
    conn: Conn,
    council: str,
    year: FinancialYear,
    rule: AveragingRule,
    schema: str = "readmodel",
) -> CouncilFigures | None:
    check_schema(schema)
    members = await _members(conn, year, schema)
    mine = next(((r, m) for r, m in members if m.council == council), None)
    if mine is None:
        return None
    row, me = mine
    averages = group_averages([m for _, m in members if m.group is me.group], rule)
    snap = await conn.fetchrow(
        f"SELECT * FROM {schema}.year_snapshot_councils "  # noqa: S608 (a checked schema name)
        "WHERE financial_year = $1 AND council = $2",
        year.start_year,
        council,
    )
    # A not_authorised dead letter (Reason.NOT_AUTHORISED: a close or register event the
    # office did not sign) is never casework: the figures miss nothing, so it holds nothing.
    dead = await conn.fetchval(
        f"SELECT count(*) FROM {schema}.dead_letters WHERE status = 'open' "  # noqa: S608
        "AND council = $1 "
        "AND reason <> 'not_authorised' AND (financial_year = $2 OR financial_year IS NULL)",
        council,
        year.start_year,
    )
    return CouncilFigures(
        council=council,
        name=row["name"],
        group=me.group,
        year=year,
        counts=me.counts,
        population=me.population,
        population_year=(estimate.year if (estimate := population_for(row, year)) else None),
        averages=averages[me.group],
        late_events=row["late_events"],
        snapshot=counts_of(snap) if snap else None,
        open_dead_letters=int(dead),
    )
