"""The dispatcher: the letter service's loop. It renders pending letters, sends rendered
ones, relays the letter events, and every lease settles what a dead sender left in
``sending`` and queues letters for councils that joined a closed year late.

Each step is its own module (render_pending.py, sender.py, relay.py, reconcile.py,
late_councils.py); this one only schedules them and rides out outages.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import asyncpg
import structlog

from services.letters.config import LettersSettings
from services.letters.late_councils import queue_late_councils
from services.letters.reconcile import MaildirArchive, reconcile
from services.letters.relay import Publish, relay_events
from services.letters.render_pending import render_pending
from services.letters.render_pool import RenderPool
from services.letters.sender import Sender
from services.platform.db import is_transient
from services.platform.retry import Backoff
from services.platform.settings import Settings

log = structlog.get_logger(__name__)

# A failed step (the database or the broker away) is tried again after this, doubling, capped.
STEP_RETRY_BASE_S = 0.5
STEP_RETRY_MAX_S = 30.0
# Reconcile and late councils run at least this often, however long the lease.
HOUSEKEEPING_MAX_INTERVAL_S = 10.0


class Dispatcher:
    def __init__(
        self,
        pool: asyncpg.Pool,
        settings: Settings,
        lsettings: LettersSettings,
        publish: Publish,
    ) -> None:
        self.pool = pool
        self.ls = lsettings
        self.publish = publish
        self.archive = (
            MaildirArchive(lsettings.reconcile_maildir) if lsettings.reconcile_maildir else None
        )
        self.renderer = RenderPool(lsettings.render_workers)
        self.sender = Sender(pool, settings, lsettings, publish)
        self.wake = asyncio.Event()

    @property
    def lease_s(self) -> float:
        """How long a letter may stay in ``sending`` before its sender is presumed dead: an
        SMTP conversation times out sooner, so no live sender (of any instance) holds it."""
        return self.ls.smtp_timeout_s + 5.0

    async def run(self, stop: asyncio.Event) -> None:
        self.renderer.start()
        next_housekeeping = 0.0
        backoff = Backoff(STEP_RETRY_BASE_S, STEP_RETRY_MAX_S)
        while not stop.is_set():
            try:
                if time.monotonic() >= next_housekeeping:
                    await reconcile(self.pool, self.archive, self.lease_s)
                    await queue_late_councils(self.pool, self.ls.message_id_domain)
                    next_housekeeping = time.monotonic() + min(
                        self.lease_s, HOUSEKEEPING_MAX_INTERVAL_S
                    )
                busy = await self.render_and_send() + await relay_events(
                    self.pool, self.publish, self.sender.delivery_timeout_s
                )
            except Exception as exc:
                # A database or broker outage: back off (capped), say so once per attempt,
                # and carry on by ourselves when it is back. A traceback only for the unexpected.
                delay = backoff.next()
                transient = is_transient(exc)
                log.error(
                    "dispatcher step failed; retrying",
                    transient=transient,
                    attempt=backoff.failures,
                    retry_in_s=round(delay, 2),
                    error=f"{type(exc).__name__}: {exc}"[:300],
                    exc_info=not transient,
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
                continue
            if backoff.failures:
                log.info("dispatcher recovered", failed_attempts=backoff.failures)
                backoff.reset()
            if not busy:
                self.wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), self.ls.poll_interval_s)
        self.renderer.close()

    async def render_and_send(self) -> int:
        """Send what is rendered while the next letters render: the render processes are
        not left idle during SMTP conversations. Both run to their end before it returns
        (nothing is left running behind a failure); a failure of either is raised."""
        render = asyncio.ensure_future(render_pending(self.pool, self.renderer))
        sent = 0
        try:
            while not render.done():
                count = await self.sender.send_rendered()
                sent += count
                if not count:
                    break
        finally:
            rendered = await asyncio.gather(render, return_exceptions=True)
        if isinstance(rendered[0], BaseException):
            raise rendered[0]
        return int(rendered[0]) + sent
