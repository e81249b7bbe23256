"""Letters for councils registered after a close whose letters were already queued.

The projector adds such a council to the year's snapshot when its registration is read,
whenever that is; its letter is queued like the close's own, by the same decision
(year_closed.letters_to_queue): held, since joining after the close is a reason to hold
(docs/domain.md §11).
"""

from __future__ import annotations

import asyncpg
import structlog

from services.letters import outbox
from services.letters.year_closed import letters_to_queue
from services.readmodel.letter_reads import hold_reasons, joined_after_close, snapshot_inputs

log = structlog.get_logger(__name__)


async def queue_late_councils(pool: asyncpg.Pool, message_id_domain: str) -> int:
    """Queue a letter for every council that joined a handled year's snapshot after its
    close and has none yet; returns how many were queued."""
    queued = 0
    async with pool.acquire() as conn:
        for close_id, year in await outbox.handled_closes(conn):
            joined = await joined_after_close(conn, year)
            missing = await outbox.without_letter(conn, year, joined) if joined else []
            if missing:
                inputs = await snapshot_inputs(conn, year, missing)
                letters = letters_to_queue(inputs, await hold_reasons(conn, year))
                queued += await outbox.create_for_close(
                    conn, close_id, year, letters, message_id_domain
                )
    if queued:
        log.warning("letters queued (held) for councils registered after the close",
                    letters=queued)  # fmt: skip
    return queued
