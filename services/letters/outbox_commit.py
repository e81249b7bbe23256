"""The outbox updates around an SMTP conversation, retried through a database outage until
they commit.

The letter is already committed as ``sending``: giving up would leave it there until the
service restarts, and a letter the SMTP server accepted would never be recorded as sent.
Each step checks the letter is still ``sending``, so a retry after a commit whose answer
was lost changes nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg

from services.platform.db import Conn, is_transient
from services.platform.retry import retry

T = TypeVar("T")

BASE_DELAY_S = 0.2
MAX_DELAY_S = 10.0


async def commit_until_done(
    pool: asyncpg.Pool, what: str, step: Callable[[Conn], Awaitable[T]]
) -> T:
    """Run ``step`` in one short transaction until it commits; an error that is not a
    database outage propagates. ``what`` names the update in the logs."""

    async def once() -> T:
        async with pool.acquire() as conn, conn.transaction():
            return await step(conn)

    return await retry(
        once, what=what, base_delay=BASE_DELAY_S, max_delay=MAX_DELAY_S, retry_if=is_transient
    )
