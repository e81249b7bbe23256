"""Reaching PostgreSQL from the command line, with one clear sentence when it is not there."""

from __future__ import annotations

from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import asyncpg

from services.cli.common import ExitCode, fail, run
from services.platform.settings import Settings, redact_url
from services.readmodel.versions import read_models_exist

T = TypeVar("T")

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
        if not await read_models_exist(conn):
            raise DatabaseUnavailable(
                "the read models do not exist yet: start the projector once "
                "(`annual-review serve projector`) so that it creates them"
            )
        yield conn
    finally:
        await conn.close()


def run_db(coro: Coroutine[Any, Any, T]) -> T:
    """Run an operator's database coroutine; its refusals become clear CLI errors."""
    try:
        return run(coro)
    except DatabaseUnavailable as e:
        fail(str(e), hint=e.hint, code=ExitCode.UNAVAILABLE)
    except (LookupError, ValueError) as e:
        fail(str(e), code=ExitCode.INVALID_INPUT)
