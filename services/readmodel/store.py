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

from contracts.events import DecisionOutcome, ServiceArea
from contracts.groups import ComparisonGroup
from services.domain.casebook import CaseState, ContributionKey, WorkingSet
from services.domain.register import CouncilState, RegistryFact, merge_all
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


Claim: TypeAlias = tuple[UUID, int, str | None, int | None]  # event id, partition, council, year


async def claim_applied(conn: Conn, claims: Sequence[Claim]) -> set[tuple[UUID, int]]:
    """Record the events as applied on their partitions and return the (id, partition) pairs
    that already were: one statement and one index probe per event, where asking first and
    recording after took two. The caller releases (``unclaim_applied``) the ids it then did
    not apply, in the same transaction, so what commits is exactly the events applied. The
    same id on another partition is not a duplicate here (cross_partition_duplicates)."""
    if not claims:
        return set()
    rows = await conn.fetch(
        "INSERT INTO applied_events (event_id, partition, council, financial_year) "
        "SELECT * FROM unnest($1::uuid[], $2::int[], $3::text[], $4::int[]) "
        "ON CONFLICT DO NOTHING RETURNING event_id, partition",
        [c[0] for c in claims],
        [c[1] for c in claims],
        [c[2] for c in claims],
        [c[3] for c in claims],
    )
    claimed = {(r["event_id"], r["partition"]) for r in rows}
    return {(c[0], c[1]) for c in claims} - claimed


async def unclaim_applied(conn: Conn, claims: Sequence[tuple[UUID, int]]) -> None:
    if claims:
        await conn.execute(
            "DELETE FROM applied_events a USING unnest($1::uuid[], $2::int[]) AS u(e, p) "
            "WHERE a.event_id = u.e AND a.partition = u.p",
            [c[0] for c in claims],
            [c[1] for c in claims],
        )


async def load_working_set(conn: Conn, cases: Iterable[str]) -> WorkingSet:
    """The batch's cases on every partition they are known on, and each partition's cuts."""
    refs = sorted(set(cases))
    case_rows = await conn.fetch("SELECT * FROM cases WHERE case_reference = ANY($1::text[])", refs)
    return WorkingSet(
        cases={(r["case_reference"], r["partition"]): _case(r) for r in case_rows},
        cut_years=await cut_years(conn),
    )


async def cut_years(conn: Conn) -> dict[int, set[int]]:
    """Partition -> the years whose cut (close marker) on it has been read."""
    out: dict[int, set[int]] = {}
    for r in await conn.fetch("SELECT partition, financial_year FROM year_cuts"):
        out.setdefault(r["partition"], set()).add(r["financial_year"])
    return out


async def write_changes(conn: Conn, ws: WorkingSet, last_event_at: datetime | None) -> set[str]:
    """Write the working set's changes (registry facts and the register, cases,
    contributions, late and parked events); returns the councils whose register entry was
    merged again."""
    changed = await _write_facts(conn, ws.facts)
    if ws.changed_cases:
        cases = [ws.cases[k] for k in sorted(ws.changed_cases)]
        await conn.execute(
            "INSERT INTO cases (case_reference, partition, council, financial_year, outcome, "
            "satisfactory_remedy, withdrawn, service_area, published_url) "
            "SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::int[], $5::text[], "
            "$6::bool[], $7::bool[], $8::text[], $9::text[]) "
            "ON CONFLICT (case_reference, partition) DO UPDATE SET council = excluded.council, "
            "financial_year = excluded.financial_year, outcome = excluded.outcome, "
            "satisfactory_remedy = excluded.satisfactory_remedy, withdrawn = excluded.withdrawn, "
            "service_area = excluded.service_area, published_url = excluded.published_url",
            [c.case_reference for c in cases],
            [c.partition for c in cases],
            [c.council for c in cases],
            [c.financial_year for c in cases],
            [c.outcome.value for c in cases],
            [c.satisfactory_remedy for c in cases],
            [c.withdrawn for c in cases],
            [c.service_area.value if c.service_area else None for c in cases],
            [c.published_url for c in cases],
        )
    await _write_contributions(conn, ws, last_event_at)
    if ws.late:
        await conn.execute(
            "INSERT INTO late_events (event_id, partition, council, financial_year, event_type) "
            "SELECT * FROM unnest($1::uuid[], $2::int[], $3::text[], $4::int[], $5::text[]) "
            "ON CONFLICT DO NOTHING",
            [e.event_id for e, _ in ws.late],
            [k[2] for _, k in ws.late],
            [k[0] for _, k in ws.late],
            [k[1] for _, k in ws.late],
            [e.type for e, _ in ws.late],
        )
    await _park(conn, ws, changed)
    ws.take_changes()
    return changed


async def _write_contributions(conn: Conn, ws: WorkingSet, last_event_at: datetime | None) -> None:
    late_per_key: dict[ContributionKey, int] = {}
    for _, key in ws.late:
        late_per_key[key] = late_per_key.get(key, 0) + 1
    keys = sorted(set(ws.deltas) | set(late_per_key))
    if not keys:
        return
    columns = [*COUNTERS, "late_events"]
    values = [
        [ws.deltas[k].get(col, 0) if col != "late_events" else late_per_key.get(k, 0) for k in keys]
        for col in columns
    ]
    # Rows first (zeros), then add: an upsert would check the CHECK constraints against the
    # bare delta, which may be negative.
    await conn.execute(
        "INSERT INTO council_year_contributions (council, financial_year, partition) "
        "SELECT * FROM unnest($1::text[], $2::int[], $3::int[]) ON CONFLICT DO NOTHING",
        [k[0] for k in keys],
        [k[1] for k in keys],
        [k[2] for k in keys],
    )
    placeholders = ", ".join(f"${i + 4}::int[]" for i in range(len(columns)))
    names = ", ".join(f"v{i}" for i in range(len(columns)))
    await conn.execute(
        "UPDATE council_year_contributions s SET "  # noqa: S608 (column names are constants)
        + ", ".join(f"{col} = s.{col} + d.v{i}" for i, col in enumerate(columns))
        + f", last_event_at = ${len(columns) + 4}::timestamptz "
        f"FROM unnest($1::text[], $2::int[], $3::int[], {placeholders}) AS d(c, y, p, {names}) "
        f"WHERE s.council = d.c AND s.financial_year = d.y AND s.partition = d.p",
        [k[0] for k in keys],
        [k[1] for k in keys],
        [k[2] for k in keys],
        *values,
        last_event_at,
    )


async def _write_facts(conn: Conn, facts: Sequence[RegistryFact]) -> set[str]:
    """Store the registry facts and merge the register entries of their councils again."""
    if not facts:
        return set()
    await conn.execute(
        'INSERT INTO council_facts (partition, "offset", council, event_id, occurred_at, '
        "event_type, fields) SELECT p, o, c, e, t, y, f::jsonb FROM unnest($1::int[], "
        "$2::bigint[], $3::text[], $4::uuid[], $5::timestamptz[], $6::text[], $7::text[]) "
        "AS u(p, o, c, e, t, y, f) ON CONFLICT DO NOTHING",
        [f.partition for f in facts],
        [f.offset for f in facts],
        [f.council for f in facts],
        [f.event_id for f in facts],
        [f.occurred_at for f in facts],
        [f.event_type for f in facts],
        [json.dumps(f.fields, sort_keys=True) for f in facts],
    )
    codes = sorted({f.council for f in facts})
    merged = merge_all(await council_facts(conn, codes))
    if merged:
        await conn.executemany(
            "INSERT INTO councils (code, name, comparison_group, existed_from, existed_until, "
            "populations, population, population_year, chief_executive, copy_to, "
            "registry_partitions, latitude, longitude, updated_at) "
            "VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9::jsonb, $10::jsonb, $11, $12, "
            "$13, now()) "
            "ON CONFLICT (code) DO UPDATE SET name = excluded.name, "
            "comparison_group = excluded.comparison_group, existed_from = excluded.existed_from, "
            "existed_until = excluded.existed_until, populations = excluded.populations, "
            "population = excluded.population, population_year = excluded.population_year, "
            "chief_executive = excluded.chief_executive, copy_to = excluded.copy_to, "
            "registry_partitions = excluded.registry_partitions, latitude = excluded.latitude, "
            "longitude = excluded.longitude, updated_at = now()",
            [_council_row(c) for c in merged.values()],
        )
    return set(merged)


async def council_facts(
    conn: Conn, councils: Sequence[str] | None = None, before: dict[int, int] | None = None
) -> list[RegistryFact]:
    """The registry facts of ``councils`` (None: every council), only those before the
    offset ``before`` gives their partition when it is given (a partition it does not name
    contributes nothing)."""
    rows = await conn.fetch(
        "SELECT * FROM council_facts WHERE ($1::text[] IS NULL OR council = ANY($1::text[])) "
        'AND ($2::int[] IS NULL OR "offset" < (SELECT b.o FROM unnest($2::int[], $3::bigint[]) '
        "AS b(p, o) WHERE b.p = partition))",
        None if councils is None else list(councils),
        None if before is None else sorted(before),
        None if before is None else [before[p] for p in sorted(before)],
    )
    return [_fact(r) for r in rows]


async def _park(conn: Conn, ws: WorkingSet, registered_now: set[str]) -> None:
    """Events of councils not registered are parked; a council registered now is unparked."""
    if ws.folded:
        codes = sorted({f.event.council for f in ws.folded if f.event.council})
        known = {
            r["code"]
            for r in await conn.fetch(
                "SELECT code FROM councils WHERE code = ANY($1::text[])", codes
            )
        }
        parked = [f for f in ws.folded if f.event.council not in known]
        if parked:
            await conn.execute(
                'INSERT INTO parking (partition, "offset", event_id, event_type, council, '
                "financial_year) SELECT * FROM unnest($1::int[], $2::bigint[], $3::uuid[], "
                "$4::text[], $5::text[], $6::int[]) ON CONFLICT DO NOTHING",
                [f.partition for f in parked],
                [f.offset for f in parked],
                [f.event.event_id for f in parked],
                [f.event.type for f in parked],
                [f.event.council for f in parked],
                [f.financial_year for f in parked],
            )
    if registered_now:
        await conn.execute(
            "DELETE FROM parking WHERE council = ANY($1::text[])", sorted(registered_now)
        )


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


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _fact(r: asyncpg.Record) -> RegistryFact:
    return RegistryFact(
        council=r["council"],
        partition=r["partition"],
        offset=r["offset"],
        event_id=r["event_id"],
        occurred_at=r["occurred_at"],
        event_type=r["event_type"],
        fields=_json(r["fields"]),
    )


def _council_row(c: CouncilState) -> tuple[Any, ...]:
    latest = c.latest_population
    return (
        c.code, c.name, c.comparison_group.value, c.existed_from, c.existed_until,
        json.dumps({str(y): n for y, n in c.populations.items()}),
        latest.population if latest else None, latest.year if latest else None,
        json.dumps(c.chief_executive) if c.chief_executive is not None else None,
        json.dumps(list(c.copy_to)), list(c.registry_partitions), c.latitude, c.longitude,
    )  # fmt: skip


def council_state(r: asyncpg.Record) -> CouncilState:
    """A ``councils`` row as the register entry it was merged into."""
    return CouncilState(
        code=r["code"],
        name=r["name"],
        comparison_group=ComparisonGroup(r["comparison_group"]),
        existed_from=r["existed_from"],
        existed_until=r["existed_until"],
        populations={int(y): int(n) for y, n in (_json(r["populations"]) or {}).items()},
        chief_executive=_json(r["chief_executive"]),
        copy_to=tuple(_json(r["copy_to"]) or ()),
        registry_partitions=tuple(r["registry_partitions"]),
        latitude=r["latitude"],
        longitude=r["longitude"],
    )


def _case(r: asyncpg.Record) -> CaseState:
    return CaseState(
        case_reference=r["case_reference"],
        partition=r["partition"],
        council=r["council"],
        financial_year=r["financial_year"],
        outcome=DecisionOutcome(r["outcome"]),
        satisfactory_remedy=r["satisfactory_remedy"],
        withdrawn=r["withdrawn"],
        service_area=ServiceArea(r["service_area"]) if r["service_area"] else None,
        published_url=r["published_url"],
    )
