"""``annual-review serve publication``: the publication job in a loop (or run it from cron
with ``annual-review publication run``)."""

from __future__ import annotations

import asyncio

import asyncpg
import structlog

from services.platform.db import connect_pool, is_transient
from services.platform.migrations import ensure_migrated
from services.platform.settings import Settings
from services.publication.clock import Clock, system_clock
from services.publication.job import publish_due

log = structlog.get_logger(__name__)


async def run_forever(settings: Settings, interval_s: float, clock: Clock = system_clock) -> None:
    """Publish what is due every ``interval_s``; a database outage is logged and waited out."""
    pool = await connect_pool(settings, min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn:
            await ensure_migrated(conn)
        log.info("publication job started", interval_s=interval_s)
        while True:
            try:
                async with pool.acquire() as conn:
                    await publish_due(conn, clock())
            except (OSError, asyncpg.PostgresError) as exc:
                if not is_transient(exc):
                    raise
                log.warning("publication check failed; trying again", error=str(exc))
            await asyncio.sleep(interval_s)
    finally:
        await pool.close()
