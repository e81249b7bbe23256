"""asyncpg connection pool and a retry helper for transient database errors."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeAlias, TypeVar

import asyncpg
import structlog

from services.platform.retry import backoff_delay, retry
from services.platform.settings import Settings, redact_url

# backoff_delay: kept importable from here until every caller uses services.platform.retry.
__all__ = ["Conn", "backoff_delay", "connect_pool", "is_transient", "ping", "retry_transient"]

log = structlog.get_logger(__name__)

T = TypeVar("T")

# The one name for a database connection in signatures (a pool hands these out).
Conn: TypeAlias = asyncpg.Connection

# SQLSTATEs worth retrying: the operation may succeed if simply tried again.
TRANSIENT_SQLSTATES = frozenset(
    {
        "40001",  # serialization_failure
        "40P01",  # deadlock_detected
        "55P03",  # lock_not_available
        "57P01",  # admin_shutdown
        "57P02",  # crash_shutdown
        "57P03",  # cannot_connect_now (server starting up)
        "53300",  # too_many_connections
        "08000",  # connection_exception
        "08001",  # sqlclient_unable_to_establish_sqlconnection
        "08003",  # connection_does_not_exist
        "08004",  # sqlserver_rejected_establishment_of_sqlconnection
        "08006",  # connection_failure
    }
)


def is_transient(exc: BaseException) -> bool:
    """True for errors where the same operation may succeed on a later attempt."""
    if isinstance(exc, asyncpg.PostgresError):
        return getattr(exc, "sqlstate", None) in TRANSIENT_SQLSTATES
    if isinstance(exc, asyncpg.InterfaceError):
        # A connection lost mid-transaction: leaving the transaction raises "the underlying
        # connection is closed" over the error that closed it (or, when the loss races a
        # query, over an asyncpg InternalClientError): the connection is gone, not the data
        # at fault.
        if "connection is closed" in str(exc) or "connection was closed" in str(exc):
            return True
        return exc.__context__ is not None and is_transient(exc.__context__)
    # Connection refused or reset, timeouts (TimeoutError is an OSError).
    return isinstance(exc, OSError)


async def retry_transient(
    coro_factory: Callable[[], Awaitable[T]],
    *,
    attempts: int = 5,
    base_delay: float = 0.2,
    max_delay: float = 5.0,
    what: str,
) -> T:
    """Await ``coro_factory()`` until it succeeds, retrying transient errors (see
    :func:`is_transient`) up to ``attempts`` tries in all; other errors, and the last
    transient one, propagate. ``what`` names the operation in the logs."""
    return await retry(
        coro_factory, what=what, attempts=attempts, base_delay=base_delay,
        max_delay=max_delay, retry_if=is_transient,
    )  # fmt: skip


async def connect_pool(
    settings: Settings,
    *,
    min_size: int = 1,
    max_size: int = 10,
    attempts: int = 10,
    command_timeout: float | None = 60.0,
) -> asyncpg.Pool:
    """Open an asyncpg pool on ``settings.database_url``, retrying while the server is
    unreachable or starting up."""
    dsn = settings.database_url
    log.debug("connecting to PostgreSQL", dsn=redact_url(dsn), min_size=min_size, max_size=max_size)

    async def create() -> asyncpg.Pool:
        pool = await asyncpg.create_pool(
            dsn=dsn, min_size=min_size, max_size=max_size, command_timeout=command_timeout
        )
        assert pool is not None
        return pool

    return await retry_transient(
        create,
        attempts=attempts,
        base_delay=0.2,
        max_delay=3.0,
        what=f"connect to PostgreSQL at {redact_url(dsn)}",
    )


async def ping(pool: asyncpg.Pool) -> None:
    """One round trip to the database (readiness); raises when it does not answer."""
    async with pool.acquire() as conn:
        await conn.fetchval("SELECT 1")
