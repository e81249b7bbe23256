"""The register's rows: the registry facts as read from the log (``council_facts``) and the
register entries merged from them (``councils``).

The merge itself is the domain's (services/domain/register.py) and is called by the
projector's batch step; this module only stores the facts and the entries it merged.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg

from contracts.groups import ComparisonGroup
from services.domain.register import CouncilState, RegistryFact
from services.platform.db import Conn


async def store_facts(conn: Conn, facts: Sequence[RegistryFact]) -> None:
    """The registry facts of a batch; one already stored (a replayed offset) is kept."""
    if not facts:
        return
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


async def write_register(conn: Conn, merged: Mapping[str, CouncilState]) -> None:
    """These councils' register entries, as merged from their facts."""
    if not merged:
        return
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


async def registered(conn: Conn, codes: Sequence[str]) -> set[str]:
    """Which of ``codes`` have a register entry."""
    rows = await conn.fetch("SELECT code FROM councils WHERE code = ANY($1::text[])", list(codes))
    return {r["code"] for r in rows}


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
