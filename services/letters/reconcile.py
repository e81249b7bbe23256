"""Settling letters a dead sender left in ``sending``: each is looked up in the archive
mailbox before anything is sent again.

Found: it went, and is recorded as sent. Not found: it is sent again. No archive to look
in: ``uncertain``, for an operator; a letter missing is recoverable, a letter sent twice
is not.
"""

from __future__ import annotations

import mailbox
from pathlib import Path

import asyncpg
import structlog

from services.domain import letter_lifecycle as lifecycle
from services.domain.letter_lifecycle import LetterState, Transition
from services.letters import metrics, outbox

log = structlog.get_logger(__name__)

# What reconcile tells the log, and notes on the letter, for each way out of ``sending``.
_SETTLED = {
    Transition.FOUND_IN_ARCHIVE: ("sent", "found in the archive after a restart"),
    Transition.NOT_IN_ARCHIVE: ("resend", "not in the archive after a restart: resending"),
    Transition.NO_ARCHIVE: ("uncertain", "sender stopped mid-send; no archive to check"),
}


class MaildirArchive:
    """The archive mailbox every letter is copied to (by Bcc or by the relay)."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)

    def message_ids(self) -> set[str]:
        if not self.path.exists():
            return set()
        box = mailbox.Maildir(self.path, create=False)
        return {str(m["Message-ID"]).strip() for m in box if m["Message-ID"]}


async def reconcile(
    pool: asyncpg.Pool, archive: MaildirArchive | None, lease_s: float
) -> dict[str, int]:
    """Settle the letters in ``sending`` for longer than ``lease_s`` (the process before a
    crash, or another instance, died mid-send); returns how many went each way."""
    settled = {"sent": 0, "resend": 0, "uncertain": 0}
    async with pool.acquire() as conn, conn.transaction():
        stuck = await outbox.in_sending(conn, lease_s)
        if not stuck:
            return settled
        known = archive.message_ids() if archive else None
        for row in stuck:
            how = lifecycle.after_restart(None if known is None else row.message_id in known)
            counted, note = _SETTLED[how]
            if lifecycle.target(how) is LetterState.SENT:
                await outbox.mark_sent(conn, row, note, by=how)
            else:
                await outbox.apply(conn, row.id, how, note)
            settled[counted] += 1
    metrics.Work.did(len(stuck))
    log.warning("reconciled letters left in sending", **settled)
    return settled
