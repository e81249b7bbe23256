"""The projector's place in the log: each partition's next offset, and the events applied.

Both are written in the batch's own transaction (services/projector/batch.py), so the
figures, the positions and the applied event ids commit together or not at all. Every
statement is parameterised and set-based, with search_path set to the version's schema.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TypeAlias
from uuid import UUID

from services.platform.db import Conn


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
