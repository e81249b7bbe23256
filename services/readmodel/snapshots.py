"""The projector's writes at year end: the close, each partition's snapshot, the averages.

Inside the caller's transaction with search_path set to the version's schema (as store.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from uuid import UUID

from contracts.envelope import Envelope
from contracts.events import FinancialYearClosed
from contracts.financial_year import FinancialYear
from contracts.groups import ComparisonGroup
from services.domain.statistics import AveragingRule, CouncilYear, GroupAverages
from services.readmodel.counters import COUNTERS, counts_of
from services.readmodel.store import Conn


@dataclass(frozen=True, slots=True)
class YearClose:
    """Where a year's close stands: which partitions' markers have been read."""

    close_id: UUID
    partitions_closed: list[int]
    partition_count: int


async def record_close(conn: Conn, event: Envelope[FinancialYearClosed]) -> None:
    """The year's close, if it is the first: a second close of a year changes nothing."""
    close = event.data
    await conn.execute(
        "INSERT INTO year_closes (financial_year, close_id, letter_date, publication_date, "
        "signatory, partition_count, requested_at) VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7) "
        "ON CONFLICT (financial_year) DO NOTHING",
        close.financial_year.start_year,
        close.close_id,
        close.letter_date,
        close.publication_date,
        json.dumps(close.signatory.model_dump()),
        close.partition_count,
        event.occurred_at,
    )


async def lock_close(conn: Conn, year: FinancialYear) -> YearClose:
    """The year's close (recorded first), its row locked until the transaction ends."""
    row = await conn.fetchrow(
        "SELECT close_id, partitions_closed, partition_count, completed_at FROM year_closes "
        "WHERE financial_year = $1 FOR UPDATE",
        year.start_year,
    )
    assert row is not None
    return YearClose(row["close_id"], list(row["partitions_closed"]), row["partition_count"])


async def snapshot_partition(conn: Conn, year: FinancialYear, partition: int) -> None:
    """Copy the live counts of the councils whose facts are on ``partition`` and that
    existed during the year, with their open dead letters, into the year's snapshot."""
    cols = ", ".join(f"coalesce(s.{c}, 0)" for c in COUNTERS)
    await conn.execute(
        f"INSERT INTO year_snapshot_councils (financial_year, council, name, comparison_group, "  # noqa: S608
        f"existed_from, existed_until, population, population_year, chief_executive, "
        f"{', '.join(COUNTERS)}, open_dead_letters) "
        f"SELECT $1, c.code, c.name, c.comparison_group, c.existed_from, c.existed_until, "
        f"c.population, c.population_year, c.chief_executive, {cols}, "
        f"(SELECT count(*) FROM dead_letters d WHERE d.status = 'open' AND d.council = c.code "
        f" AND (d.financial_year = $1 OR d.financial_year IS NULL)) "
        f"FROM councils c LEFT JOIN council_year_stats s "
        f"  ON s.council = c.code AND s.financial_year = $1 "
        f"WHERE c.partition = $2 "
        f"  AND (c.existed_from IS NULL OR c.existed_from <= $4) "
        f"  AND (c.existed_until IS NULL OR c.existed_until >= $3) "
        f"ON CONFLICT DO NOTHING",
        year.start_year,
        partition,
        year.first_day,
        year.last_day,
    )


async def mark_partitions_closed(conn: Conn, year: FinancialYear, closed: list[int]) -> None:
    await conn.execute(
        "UPDATE year_closes SET partitions_closed = $2 WHERE financial_year = $1",
        year.start_year,
        closed,
    )


async def snapshot_members(conn: Conn, year: FinancialYear) -> list[CouncilYear]:
    """Every council in the year's snapshot, with its counts."""
    rows = await conn.fetch(
        "SELECT * FROM year_snapshot_councils WHERE financial_year = $1", year.start_year
    )
    return [
        CouncilYear(
            council=r["council"],
            year=year,
            group=ComparisonGroup(r["comparison_group"]),
            counts=counts_of(r),
            population=r["population"],
        )
        for r in rows
    ]


async def store_group_averages(
    conn: Conn,
    year: FinancialYear,
    rule: AveragingRule,
    averages: dict[ComparisonGroup, GroupAverages],
) -> None:
    """The year's group averages, exactly: each as numerator and denominator."""
    await conn.executemany(
        "INSERT INTO year_snapshot_groups (financial_year, comparison_group, averaging_rule, "
        "councils, uphold_num, uphold_den, compliance_num, compliance_den, remedy_num, "
        "remedy_den, upheld_per_100k_num, upheld_per_100k_den) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING",
        [
            (
                year.start_year,
                group.value,
                rule.value,
                avg.councils,
                *_parts(avg.uphold_rate),
                *_parts(avg.compliance_rate),
                *_parts(avg.satisfactory_remedy_rate),
                *_parts(avg.upheld_per_100k),
            )
            for group, avg in sorted(averages.items())
        ],
    )


async def mark_complete(conn: Conn, year: FinancialYear) -> None:
    await conn.execute(
        "UPDATE year_closes SET completed_at = $2 WHERE financial_year = $1",
        year.start_year,
        datetime.now(UTC),
    )


def _parts(value: object) -> tuple[int | None, int | None]:
    if isinstance(value, Fraction):
        return value.numerator, value.denominator
    return None, None
