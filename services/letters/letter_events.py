"""The letter events' outbox: every SQL statement on ``letters.events``.

A letter's state change and the events that report it (LetterStateChanged for every change,
LetterRendered, LetterIssued, LetterDispatched, LetterDispatchFailed) are written in one
transaction, so an event is never lost nor
reported for a change that was rolled back; relay.py publishes them to Kafka afterwards,
at least once (consumers deduplicate on the event id).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from contracts.codec import encode
from contracts.envelope import new_event
from contracts.events import Payload
from services.platform.db import Conn

PRODUCER = "letter-service"


@dataclass(frozen=True, slots=True)
class StoredEvent:
    id: int
    key: bytes | None
    value: bytes


async def record_event(
    conn: Conn, council: str, payload: Payload, *, actor: str | None = None
) -> None:
    """The event, keyed by its council, in the caller's transaction; ``actor``: the person
    who made the change (an operator), None for the service's own."""
    event = new_event(payload, council=council, producer=PRODUCER, actor=actor)
    await conn.execute(
        "INSERT INTO letters.events (event_id, key, value) VALUES ($1, $2, $3)",
        event.event_id,
        council.encode(),
        encode(event),
    )


async def unpublished_events(conn: Conn, limit: int = 500) -> list[StoredEvent]:
    """The oldest events not published yet, in the order they were written."""
    rows = await conn.fetch(
        "SELECT id, key, value FROM letters.events WHERE published_at IS NULL ORDER BY id LIMIT $1",
        limit,
    )
    return [StoredEvent(r["id"], r["key"], r["value"]) for r in rows]


async def mark_published(conn: Conn, ids: Sequence[int]) -> None:
    await conn.execute(
        "UPDATE letters.events SET published_at = $2 WHERE id = ANY($1::bigint[])",
        list(ids),
        datetime.now(UTC),
    )


async def present(conn: Conn) -> int:
    """How many events the table holds (a restore needs none)."""
    return int(await conn.fetchval("SELECT count(*) FROM letters.events"))


async def insert_published(
    conn: Conn, rows: Sequence[tuple[UUID, bytes | None, bytes, datetime, datetime]]
) -> None:
    """Events already on the letters topic (a restore): (event id, key, value, created,
    published), so the relay never publishes them again."""
    await conn.executemany(
        "INSERT INTO letters.events (event_id, key, value, created_at, published_at) "
        "VALUES ($1, $2, $3, $4, $5)",
        rows,
    )


async def forget_all(conn: Conn) -> None:
    """Empty the table (``restore --force``): the letters topic has every event."""
    await conn.execute("TRUNCATE letters.events")
