"""The projector's writes at year end: each partition's cut, the snapshot, the averages.

Inside the caller's transaction with search_path set to the version's schema (as store.py).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from fractions import Fraction
from typing import Any
from uuid import UUID

from contracts.envelope import Envelope
from contracts.events import FinancialYearClosed
from contracts.financial_year import FinancialYear
from contracts.groups import ComparisonGroup
from services.domain.register import CouncilState
from services.domain.statistics import AveragingRule, CouncilYearCounts, GroupAverages
from services.domain.year_snapshot import SnapshotCouncil
from services.readmodel.counters import COUNTERS, counts_of
from services.readmodel.store import Conn, council_state

_COUNTERS = ", ".join(COUNTERS)


@dataclass(frozen=True, slots=True)
class Cut:
    """Where a partition's first close marker of a year is, and the close it states."""

    partition: int
    offset: int
    close_id: UUID
    requested_at: datetime
    letter_date: date
    publication_date: date
    signatory: dict[str, Any]
    partition_count: int


async def lock_year(conn: Conn, schema: str, year: FinancialYear) -> None:
    """Inside a transaction: one cut of ``year`` at a time in ``schema``, so exactly one of
    the transactions that cut its partitions sees every cut and completes the year."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtext($1))", f"{schema}/year-cut/{year.start_year}"
    )


async def record_cut(
    conn: Conn, event: Envelope[FinancialYearClosed], partition: int, offset: int
) -> bool:
    """The partition's cut of the year at this marker; False when it already has one (a
    second close of the year: its marker comes after the first one here)."""
    close = event.data
    done = await conn.fetchval(
        'INSERT INTO year_cuts (financial_year, partition, "offset", close_id, requested_at, '
        "letter_date, publication_date, signatory, partition_count) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9) ON CONFLICT DO NOTHING RETURNING 1",
        close.financial_year.start_year,
        partition,
        offset,
        close.close_id,
        event.occurred_at,
        close.letter_date,
        close.publication_date,
        json.dumps(close.signatory.model_dump()),
        close.partition_count,
    )
    return done is not None


async def copy_cut_contributions(conn: Conn, year: FinancialYear, partition: int) -> None:
    """The partition's contributions to the year as they stand now, at its cut."""
    await conn.execute(
        f"INSERT INTO year_cut_contributions (financial_year, partition, council, {_COUNTERS}) "  # noqa: S608
        f"SELECT financial_year, partition, council, {_COUNTERS} FROM council_year_contributions "
        f"WHERE financial_year = $1 AND partition = $2 ON CONFLICT DO NOTHING",
        year.start_year,
        partition,
    )


async def cuts(conn: Conn, year: FinancialYear) -> list[Cut]:
    rows = await conn.fetch(
        "SELECT * FROM year_cuts WHERE financial_year = $1 ORDER BY partition", year.start_year
    )
    return [
        Cut(
            partition=r["partition"],
            offset=r["offset"],
            close_id=r["close_id"],
            requested_at=r["requested_at"],
            letter_date=r["letter_date"],
            publication_date=r["publication_date"],
            signatory=_json(r["signatory"]),
            partition_count=r["partition_count"],
        )
        for r in rows
    ]


async def is_complete(conn: Conn, year: FinancialYear) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT completed_at IS NOT NULL FROM year_closes WHERE financial_year = $1",
            year.start_year,
        )
    )


async def completed_years(conn: Conn) -> list[FinancialYear]:
    rows = await conn.fetch(
        "SELECT financial_year FROM year_closes WHERE completed_at IS NOT NULL "
        "ORDER BY financial_year"
    )
    return [FinancialYear(r["financial_year"]) for r in rows]


async def cut_counts(
    conn: Conn, year: FinancialYear, councils: Sequence[str] | None = None
) -> dict[str, CouncilYearCounts]:
    """Each council's counts in the year summed over every partition's cut."""
    sums = ", ".join(f"sum({c})::integer AS {c}" for c in COUNTERS)
    rows = await conn.fetch(
        f"SELECT council, {sums} FROM year_cut_contributions WHERE financial_year = $1 "  # noqa: S608
        f"AND ($2::text[] IS NULL OR council = ANY($2::text[])) GROUP BY council",
        year.start_year,
        None if councils is None else list(councils),
    )
    return {r["council"]: counts_of(r) for r in rows}


async def live_register(
    conn: Conn, councils: Sequence[str] | None = None
) -> dict[str, CouncilState]:
    rows = await conn.fetch(
        "SELECT * FROM councils WHERE $1::text[] IS NULL OR code = ANY($1::text[])",
        None if councils is None else list(councils),
    )
    return {r["code"]: council_state(r) for r in rows}


async def dead_letters_before_cuts(
    conn: Conn, year: FinancialYear, councils: Sequence[str] | None = None
) -> dict[str, int]:
    """Open dead letters of each council for the year (or naming no year) that were read
    before their partition's cut."""
    # A not_authorised dead letter (Reason.NOT_AUTHORISED: a close or register event the
    # office did not sign) is never casework: the figures miss nothing, so it holds nothing.
    rows = await conn.fetch(
        "SELECT d.council, count(*) AS n FROM dead_letters d JOIN year_cuts c "
        "ON c.financial_year = $1 AND c.partition = d.partition "
        'WHERE d.status = \'open\' AND d."offset" < c."offset" AND d.council IS NOT NULL '
        "AND d.reason <> 'not_authorised' "
        "AND (d.financial_year = $1 OR d.financial_year IS NULL) "
        "AND ($2::text[] IS NULL OR d.council = ANY($2::text[])) GROUP BY d.council",
        year.start_year,
        None if councils is None else list(councils),
    )
    return {r["council"]: int(r["n"]) for r in rows}


async def write_snapshot(
    conn: Conn, year: FinancialYear, rows: Sequence[SnapshotCouncil], dead: dict[str, int]
) -> None:
    """The snapshot's rows of these councils (written again when they are there already:
    a council that joined after the close, registered again)."""
    if not rows:
        return
    columns = (
        "financial_year, council, name, comparison_group, existed_from, existed_until, "
        f"population, population_year, chief_executive, copy_to, joined_after_close, "
        f"{_COUNTERS}, open_dead_letters"
    )
    names = [c.strip() for c in columns.split(",")]
    values = ", ".join(
        f"${i + 1}::jsonb" if n in ("chief_executive", "copy_to") else f"${i + 1}"
        for i, n in enumerate(names)
    )
    updates = ", ".join(f"{n} = excluded.{n}" for n in names[2:])
    await conn.executemany(
        f"INSERT INTO year_snapshot_councils ({columns}) VALUES ({values}) "  # noqa: S608
        f"ON CONFLICT (financial_year, council) DO UPDATE SET {updates}, finalised_at = now()",
        [
            (
                year.start_year,
                r.code,
                r.details.name,
                r.details.comparison_group.value,
                r.details.existed_from,
                r.details.existed_until,
                r.population.population if r.population else None,
                r.population.year if r.population else None,
                json.dumps(r.details.chief_executive) if r.details.chief_executive else None,
                json.dumps(list(r.details.copy_to)),
                r.joined_after_close,
                *(getattr(r.counts, c) for c in COUNTERS),
                dead.get(r.code, 0),
            )
            for r in rows
        ],
    )


async def drop_joined(conn: Conn, year: FinancialYear, councils: Sequence[str]) -> None:
    """These councils are no longer in the year's snapshot as joined after the close (a
    later fact says they did not exist during it)."""
    await conn.execute(
        "DELETE FROM year_snapshot_councils WHERE financial_year = $1 AND joined_after_close "
        "AND council = ANY($2::text[])",
        year.start_year,
        list(councils),
    )


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


async def record_completion(conn: Conn, year: FinancialYear, close: Cut) -> None:
    """The year's close, complete: the details of the close its snapshot follows."""
    await conn.execute(
        "INSERT INTO year_closes (financial_year, close_id, letter_date, publication_date, "
        "signatory, partition_count, requested_at, completed_at) "
        "VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8) ON CONFLICT DO NOTHING",
        year.start_year,
        close.close_id,
        close.letter_date,
        close.publication_date,
        json.dumps(close.signatory),
        close.partition_count,
        close.requested_at,
        datetime.now(UTC),
    )


def _parts(value: object) -> tuple[int | None, int | None]:
    if isinstance(value, Fraction):
        return value.numerator, value.denominator
    return None, None


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value
