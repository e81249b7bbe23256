"""Relaying the letter events (letters.events, written with each state change) to the
letters topic, oldest first. At least once: an event published whose row was not yet
marked is published again after a failure, and consumers deduplicate on its event id."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Protocol

import asyncpg

from services.letters.letter_events import mark_published, unpublished_events


class Publish(Protocol):
    """Publishes one relayed letter event, encoded, to the letters topic (key: the council)."""

    def __call__(self, value: bytes, key: bytes | None, /) -> Awaitable[None]: ...


async def relay_events(pool: asyncpg.Pool, publish: Publish, timeout_s: float) -> int:
    """Publish a batch of unpublished events, then mark them; returns how many. The producer
    retries for as long as the broker is away: ``timeout_s`` bounds it (TimeoutError), so
    that the service says why nothing moves; an event published late is published again by
    the next relay, and consumers deduplicate on its id."""
    async with asyncio.timeout(timeout_s), pool.acquire() as conn:
        events = await unpublished_events(conn)
        if not events:
            return 0
        for e in events:
            await publish(e.value, e.key)
        await mark_published(conn, [e.id for e in events])
    return len(events)
