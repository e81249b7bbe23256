"""``annual-review serve publication``: the publication job in a loop (or run it from cron
with ``annual-review publication run``), as principal ``publication`` (role ar_publication),
on the database's clock."""

from __future__ import annotations

import asyncio

import asyncpg
import structlog

from services.platform.db import Conn, connect_pool, is_transient
from services.platform.migrations import ensure_migrated
from services.platform.settings import Settings
from services.publication.clock import Clock
from services.publication.job import publish_due

log = structlog.get_logger(__name__)


class CannotPublish(Exception):
    """The job's database role may not record a publication: it would fail at the first
    year due, perhaps months after it started, so it refuses to start instead."""

    def __init__(self, role: str) -> None:
        super().__init__(
            f"the publication job connects to PostgreSQL as role {role!r}, which may not "
            f"record a publication: run it as principal `publication` (AR_PRINCIPAL="
            f"publication with AR_SECRETS_DIR, or an AR_DATABASE_URL whose user is "
            f"ar_publication)"
        )


async def check_can_publish(conn: Conn) -> None:
    row = await conn.fetchrow(
        "SELECT current_user AS role, "
        "has_any_column_privilege('publication.published_years', 'INSERT') AS can"
    )
    assert row is not None
    if not row["can"]:
        raise CannotPublish(str(row["role"]))


async def run_forever(settings: Settings, interval_s: float, clock: Clock | None = None) -> None:
    """Publish what is due every ``interval_s`` by the database's clock (``clock``: tests
    only); a database outage is logged and waited out."""
    pool = await connect_pool(settings, min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn:
            await ensure_migrated(conn)
            await check_can_publish(conn)
        log.info("publication job started", interval_s=interval_s)
        while True:
            try:
                async with pool.acquire() as conn:
                    await publish_due(conn, None if clock is None else clock())
            except (OSError, asyncpg.PostgresError) as exc:
                if not is_transient(exc):
                    raise
                log.warning("publication check failed; trying again", error=str(exc))
            await asyncio.sleep(interval_s)
    finally:
        await pool.close()
