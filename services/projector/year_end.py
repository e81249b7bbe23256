"""Year end: a FinancialYearClosed marker on a partition finalises that partition's councils.

When every partition's marker has been read, the year's snapshot is complete: its group
averages are computed from the snapshot rows (exactly, as fractions) and stored.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import structlog

from contracts.envelope import Envelope
from contracts.events import FinancialYearClosed
from contracts.groups import ComparisonGroup
from services.domain.statistics import (
    AveragingRule,
    CouncilYear,
    CouncilYearCounts,
    group_averages,
)
from services.projector.store import COUNT_COLUMNS, Conn

log = structlog.get_logger(__name__)


async def close_partition(
    conn: Conn, event: Envelope[FinancialYearClosed], partition: int, rule: AveragingRule
) -> bool:
    """Snapshot the partition's councils for the year; True when the year became complete."""
    close = event.data
    year = close.financial_year
    await conn.execute(
        "INSERT INTO year_closes (financial_year, close_id, letter_date, publication_date, "
        "signatory, partition_count, requested_at) VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7) "
        "ON CONFLICT (financial_year) DO NOTHING",
        year.start_year,
        close.close_id,
        close.letter_date,
        close.publication_date,
        json.dumps(close.signatory.model_dump()),
        close.partition_count,
        event.occurred_at,
    )
    row = await conn.fetchrow(
        "SELECT close_id, partitions_closed, partition_count, completed_at FROM year_closes "
        "WHERE financial_year = $1 FOR UPDATE",
        year.start_year,
    )
    assert row is not None
    if partition in row["partitions_closed"]:
        # A second close of the same year: its marker comes after the first one here.
        log.info(
            "year already closed on partition",
            year=str(year),
            partition=partition,
            close_id=str(close.close_id),
            first_close_id=str(row["close_id"]),
        )
        return False
    cols = ", ".join(f"coalesce(s.{c}, 0)" for c in COUNT_COLUMNS)
    await conn.execute(
        f"INSERT INTO year_snapshot_councils (financial_year, council, name, comparison_group, "  # noqa: S608
        f"existed_from, existed_until, population, population_year, chief_executive, "
        f"{', '.join(COUNT_COLUMNS)}, open_dead_letters) "
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
    closed = [*row["partitions_closed"], partition]
    await conn.execute(
        "UPDATE year_closes SET partitions_closed = $2 WHERE financial_year = $1",
        year.start_year,
        closed,
    )
    if len(closed) < row["partition_count"]:
        return False
    await _complete(conn, event, rule)
    return True


async def _complete(conn: Conn, event: Envelope[FinancialYearClosed], rule: AveragingRule) -> None:
    year = event.data.financial_year
    rows = await conn.fetch(
        "SELECT * FROM year_snapshot_councils WHERE financial_year = $1", year.start_year
    )
    members = [
        CouncilYear(
            council=r["council"],
            year=year,
            group=ComparisonGroup(r["comparison_group"]),
            counts=CouncilYearCounts(**{c: r[c] for c in COUNT_COLUMNS}),
            population=r["population"],
        )
        for r in rows
    ]
    averages = group_averages(members, rule)

    def parts(value: object) -> tuple[int | None, int | None]:
        from fractions import Fraction

        if isinstance(value, Fraction):
            return value.numerator, value.denominator
        return None, None

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
                *parts(avg.uphold_rate),
                *parts(avg.compliance_rate),
                *parts(avg.satisfactory_remedy_rate),
                *parts(avg.upheld_per_100k),
            )
            for group, avg in sorted(averages.items())
        ],
    )
    await conn.execute(
        "UPDATE year_closes SET completed_at = $2 WHERE financial_year = $1",
        year.start_year,
        datetime.now(UTC),
    )
    log.info("year snapshot complete", year=str(year), councils=len(members))
