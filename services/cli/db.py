"""Reaching PostgreSQL from the command line, with one clear sentence when it is not there."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from services.platform.settings import Settings, redact_url

MAKE_UP = "run `make up` first (it starts PostgreSQL), or point AR_DATABASE_URL at a database"


class DatabaseUnavailable(Exception):
    hint = MAKE_UP


@asynccontextmanager
async def connection(settings: Settings) -> AsyncIterator[asyncpg.Connection]:
    try:
        conn = await asyncpg.connect(settings.database_url, timeout=5)
    except (OSError, asyncpg.PostgresError, TimeoutError) as e:
        raise DatabaseUnavailable(
            f"PostgreSQL at {redact_url(settings.database_url)} is not reachable "
            f"({type(e).__name__})"
        ) from None
    try:
        if not await conn.fetchval("SELECT to_regclass('readmodel.councils') IS NOT NULL"):
            raise DatabaseUnavailable(
                "the read models do not exist yet: start the projector once "
                "(`annual-review serve projector`) so that it creates them"
            )
        yield conn
    finally:
        await conn.close()
