"""The projector's writes: load a batch's working set, write what changed.

Every statement is parameterised and set-based (one statement per table per batch, via
unnest), and runs inside the caller's transaction with search_path set to the version's
schema, so the same code serves the live tables and a rebuild's new version.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, TypeAlias
from uuid import UUID

import asyncpg

from contracts.events import DecisionOutcome
from contracts.groups import ComparisonGroup
from services.domain.casebook import CaseState, CouncilState, CouncilYearKey, WorkingSet
from services.readmodel.counters import COUNTERS

Conn: TypeAlias = asyncpg.Connection


async def lock_positions(conn: Conn, topic: str, partitions: Sequence[int]) -> dict[int, int]:
    """Stored next offsets of these partitions, locked until the transaction ends.

    The row lock is what makes two instances (or an instance and its zombie) safe: the
    second waits, then sees the first's positions and skips what it already applied.
    """
    select = (
        "SELECT partition, next_offset FROM positions "
        "WHERE topic = $1 AND partition = ANY($2::int[]) ORDER BY partition FOR UPDATE"
    )
    rows = await conn.fetch(select, topic, list(partitions))
    if len(rows) < len(set(partitions)):  # a partition seen for the first time
        await conn.execute(
            "INSERT INTO positions (topic, partition, next_offset) "
            "SELECT $1, p, 0 FROM unnest($2::int[]) AS p ON CONFLICT DO NOTHING",
            topic,
            list(partitions),
        )
        rows = await conn.fetch(select, topic, list(partitions))
    return {r["partition"]: r["next_offset"] for r in rows}


async def read_positions(conn: Conn, topic: str) -> dict[int, int]:
    rows = await conn.fetch("SELECT partition, next_offset FROM positions WHERE topic = $1", topic)
    return {r["partition"]: r["next_offset"] for r in rows}


async def advance_positions(
    conn: Conn, topic: str, next_offsets: dict[int, tuple[int, datetime | None]]
) -> None:
    parts = sorted(next_offsets)
    await conn.execute(
        "UPDATE positions p SET next_offset = v.next_offset, "
        "last_event_at = coalesce(v.last_event_at, p.last_event_at), updated_at = now() "
        "FROM unnest($2::int[], $3::bigint[], $4::timestamptz[]) "
        "AS v(partition, next_offset, last_event_at) "
        "WHERE p.topic = $1 AND p.partition = v.partition",
        topic,
        parts,
        [next_offsets[p][0] for p in parts],
        [next_offsets[p][1] for p in parts],
    )


async def already_applied(conn: Conn, event_ids: Sequence[UUID]) -> set[UUID]:
    if not event_ids:
        return set()
    rows = await conn.fetch(
        "SELECT event_id FROM applied_events WHERE event_id = ANY($1::uuid[])", list(event_ids)
    )
    return {r["event_id"] for r in rows}


async def claim_applied(conn: Conn, event_ids: Sequence[UUID]) -> set[UUID]:
    """Record the event ids as applied and return those that already were: one statement
    and one index probe per event, where asking first and recording after took two. The
    caller releases (``unclaim_applied``) the ids it then did not apply, in the same
    transaction, so what commits is exactly the ids applied."""
    if not event_ids:
        return set()
    rows = await conn.fetch(
        "INSERT INTO applied_events (event_id) SELECT unnest($1::uuid[]) "
        "ON CONFLICT DO NOTHING RETURNING event_id",
        list(event_ids),
    )
    claimed = {r["event_id"] for r in rows}
    return {e for e in event_ids if e not in claimed}


async def unclaim_applied(conn: Conn, event_ids: Sequence[UUID]) -> None:
    if event_ids:
        await conn.execute(
            "DELETE FROM applied_events WHERE event_id = ANY($1::uuid[])", list(event_ids)
        )


async def record_applied(conn: Conn, event_ids: Sequence[UUID]) -> None:
    if event_ids:
        await conn.execute(
            "INSERT INTO applied_events (event_id) SELECT unnest($1::uuid[]) "
            "ON CONFLICT DO NOTHING",
            list(event_ids),
        )


async def load_working_set(conn: Conn, councils: Iterable[str], cases: Iterable[str]) -> WorkingSet:
    codes, refs = sorted(set(councils)), sorted(set(cases))
    council_rows = await conn.fetch("SELECT * FROM councils WHERE code = ANY($1::text[])", codes)
    case_rows = await conn.fetch("SELECT * FROM cases WHERE case_reference = ANY($1::text[])", refs)
    return WorkingSet(
        councils={r["code"]: _council(r) for r in council_rows},
        cases={r["case_reference"]: _case(r) for r in case_rows},
        snapshotted=await snapshotted(conn, codes),
    )


async def snapshotted(conn: Conn, councils: Iterable[str]) -> set[CouncilYearKey]:
    """The (council, year) pairs of these councils whose year snapshot is taken."""
    rows = await conn.fetch(
        "SELECT council, financial_year FROM year_snapshot_councils "
        "WHERE council = ANY($1::text[])",
        sorted(councils),
    )
    return {(r["council"], r["financial_year"]) for r in rows}


async def write_changes(conn: Conn, ws: WorkingSet, last_event_at: datetime | None) -> None:
    """Write the working set's changes (councils, cases, counters, late events)."""
    if ws.changed_councils:
        await conn.executemany(
            "INSERT INTO councils (code, name, comparison_group, existed_from, existed_until, "
            "population, population_year, chief_executive, partition, updated_at) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, now()) "
            "ON CONFLICT (code) DO UPDATE SET name = excluded.name, "
            "comparison_group = excluded.comparison_group, existed_from = excluded.existed_from, "
            "existed_until = excluded.existed_until, population = excluded.population, "
            "population_year = excluded.population_year, "
            "chief_executive = excluded.chief_executive, partition = excluded.partition, "
            "updated_at = now()",
            [_council_row(ws.councils[c]) for c in sorted(ws.changed_councils)],
        )
    if ws.changed_cases:
        cases = [ws.cases[r] for r in sorted(ws.changed_cases)]
        await conn.execute(
            "INSERT INTO cases (case_reference, council, financial_year, outcome, "
            "satisfactory_remedy, withdrawn) "
            "SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], "
            "$5::bool[], $6::bool[]) "
            "ON CONFLICT (case_reference) DO UPDATE SET council = excluded.council, "
            "financial_year = excluded.financial_year, outcome = excluded.outcome, "
            "satisfactory_remedy = excluded.satisfactory_remedy, withdrawn = excluded.withdrawn",
            [c.case_reference for c in cases],
            [c.council for c in cases],
            [c.financial_year for c in cases],
            [c.outcome.value for c in cases],
            [c.satisfactory_remedy for c in cases],
            [c.withdrawn for c in cases],
        )
    late_per_key: dict[CouncilYearKey, int] = {}
    for _, key in ws.late:
        late_per_key[key] = late_per_key.get(key, 0) + 1
    keys = sorted(set(ws.deltas) | set(late_per_key))
    if keys:
        columns = [*COUNTERS, "late_events"]
        values = [
            [
                ws.deltas[k].get(col, 0) if col != "late_events" else late_per_key.get(k, 0)
                for k in keys
            ]
            for col in columns
        ]
        # Rows first (zeros), then add: an upsert would check the CHECK constraints
        # against the bare delta, which may be negative.
        await conn.execute(
            "INSERT INTO council_year_stats (council, financial_year) "
            "SELECT * FROM unnest($1::text[], $2::int[]) ON CONFLICT DO NOTHING",
            [k[0] for k in keys],
            [k[1] for k in keys],
        )
        placeholders = ", ".join(f"${i + 3}::int[]" for i in range(len(columns)))
        names = ", ".join(f"v{i}" for i in range(len(columns)))
        await conn.execute(
            "UPDATE council_year_stats s SET "  # noqa: S608 (column names are constants)
            + ", ".join(f"{col} = s.{col} + d.v{i}" for i, col in enumerate(columns))
            + f", last_event_at = ${len(columns) + 3}::timestamptz "
            f"FROM unnest($1::text[], $2::int[], {placeholders}) AS d(c, y, {names}) "
            f"WHERE s.council = d.c AND s.financial_year = d.y",
            [k[0] for k in keys],
            [k[1] for k in keys],
            *values,
            last_event_at,
        )
    if ws.late:
        await conn.execute(
            "INSERT INTO late_events (event_id, council, financial_year, event_type) "
            "SELECT * FROM unnest($1::uuid[], $2::text[], $3::int[], $4::text[]) "
            "ON CONFLICT DO NOTHING",
            [e.event_id for e, _ in ws.late],
            [k[0] for _, k in ws.late],
            [k[1] for _, k in ws.late],
            [e.type for e, _ in ws.late],
        )
    ws.take_changes()


async def insert_dead_letters(conn: Conn, rows: Sequence[dict[str, Any]]) -> None:
    if not rows:
        return
    await conn.executemany(
        'INSERT INTO dead_letters (topic, partition, "offset", reason, detail, event_id, '
        "event_type, council, financial_year, key, value) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) "
        'ON CONFLICT (topic, partition, "offset") DO NOTHING',
        [
            (
                r["topic"],
                r["partition"],
                r["offset"],
                r["reason"],
                r["detail"],
                r["event_id"],
                r["event_type"],
                r["council"],
                r["financial_year"],
                r["key"],
                r["value"],
            )
            for r in rows
        ],
    )


def _council(r: asyncpg.Record) -> CouncilState:
    ce = r["chief_executive"]
    return CouncilState(
        code=r["code"],
        name=r["name"],
        comparison_group=ComparisonGroup(r["comparison_group"]),
        existed_from=r["existed_from"],
        existed_until=r["existed_until"],
        population=r["population"],
        population_year=r["population_year"],
        chief_executive=json.loads(ce) if isinstance(ce, str) else ce,
        partition=r["partition"],
    )


def _council_row(c: CouncilState) -> tuple[Any, ...]:
    return (
        c.code, c.name, c.comparison_group.value, c.existed_from, c.existed_until,
        c.population, c.population_year,
        json.dumps(c.chief_executive) if c.chief_executive is not None else None,
        c.partition,
    )  # fmt: skip


def _case(r: asyncpg.Record) -> CaseState:
    return CaseState(
        case_reference=r["case_reference"],
        council=r["council"],
        financial_year=r["financial_year"],
        outcome=DecisionOutcome(r["outcome"]),
        satisfactory_remedy=r["satisfactory_remedy"],
        withdrawn=r["withdrawn"],
    )
