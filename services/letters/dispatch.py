"""The dispatcher: renders pending letters, sends rendered ones, relays letter events.

Exactly once, as GOV.UK Notify and every good outbox does it: a letter is committed as
``sending`` before the SMTP conversation, carries a Message-ID derived from its identity,
and after a crash anything left in ``sending`` is looked up in the archive mailbox before
it may be sent again. Where nothing can tell, the letter is ``uncertain`` and waits for an
operator: a letter missing is recoverable, a letter sent twice is not.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import mailbox
import signal
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor, ProcessPoolExecutor
from pathlib import Path
from typing import Any, Protocol, TypeVar

import aiosmtplib
import asyncpg
import structlog

from contracts.values import escape_unsafe
from services.domain import letter_lifecycle as lifecycle
from services.domain.letter_inputs import LetterInputs
from services.domain.letter_lifecycle import LetterState, Transition
from services.letters import metrics, outbox, smtp_client
from services.letters.config import LettersSettings
from services.letters.email import build_email
from services.letters.faults import crash_point
from services.letters.render import PERMANENT_RENDER_ERRORS, digests, render_letter, warm_up
from services.letters.smtp_policy import RESEND, CannotSendSafely
from services.platform.db import backoff_delay, is_transient
from services.platform.settings import Settings
from services.readmodel.letter_reads import joined_after_close, snapshot_inputs

log = structlog.get_logger(__name__)
T = TypeVar("T")


class Publish(Protocol):
    """Publishes one relayed letter event, encoded, to the letters topic (key: the council)."""

    def __call__(self, value: bytes, key: bytes | None, /) -> Awaitable[None]: ...


# What reconcile tells the log, and notes on the letter, for each way out of ``sending``.
_SETTLED = {
    Transition.FOUND_IN_ARCHIVE: ("sent", "found in the archive after a restart"),
    Transition.NOT_IN_ARCHIVE: ("resend", "not in the archive after a restart: resending"),
    Transition.NO_ARCHIVE: ("uncertain", "sender stopped mid-send; no archive to check"),
}


Rendered = tuple[str, str, str, bytes, tuple[str, str, str], float]


class RenderRefused(RuntimeError):
    """A letter that cannot be rendered for a reason no retry fixes (one str argument, so it
    comes back whole from a worker process)."""


def render_inputs(context: str, version: int) -> Rendered:
    """Top level, so a worker process can run it: (template version, text, html, pdf, sha,
    seconds the render took in the worker: the metric, without the wait for a worker)."""
    started = time.perf_counter()
    try:
        rendered = render_letter(LetterInputs.from_json(context).letter(version))
    except PERMANENT_RENDER_ERRORS as refused:
        raise RenderRefused(str(refused) or type(refused).__name__) from None
    d = digests(rendered)
    return (
        rendered.template_version,
        rendered.text,
        rendered.html,
        rendered.pdf,
        (d.text_sha256, d.html_sha256, d.pdf_sha256),
        time.perf_counter() - started,
    )


def _die_with_parent() -> None:
    """A render worker must not outlive a letter service that was killed (SIGKILL gives the
    pool no chance to stop it): ask Linux to kill it with its parent."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _start_render_worker() -> None:
    """Each render process dies with the service, and loads WeasyPrint and its fonts before
    its first letter (about a second, which would otherwise delay a close's first letters)."""
    _die_with_parent()
    _warm_up()


def _warm_up() -> None:
    try:
        warm_up()
    except Exception:  # a letter's own render then fails with the reason, for that letter
        log.warning("render warm-up failed", exc_info=True)


def _noop() -> None:
    """Submitted once at start: the pool then starts its processes, which warm up."""


def _log_failure(future: asyncio.Future[None]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.warning("render processes did not start", error=repr(future.exception()))


class MaildirArchive:
    """The archive mailbox every letter is copied to (by Bcc or by the relay)."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)

    def message_ids(self) -> set[str]:
        if not self.path.exists():
            return set()
        box = mailbox.Maildir(self.path, create=False)
        return {str(m["Message-ID"]).strip() for m in box if m["Message-ID"]}


class Dispatcher:
    def __init__(
        self,
        pool: asyncpg.Pool,
        settings: Settings,
        lsettings: LettersSettings,
        publish: Publish,
    ) -> None:
        self.pool = pool
        self.settings = settings
        self.ls = lsettings
        self.publish = publish
        self.archive = (
            MaildirArchive(lsettings.reconcile_maildir) if lsettings.reconcile_maildir else None
        )
        self.executor: Executor | None = (
            ProcessPoolExecutor(lsettings.render_workers, initializer=_start_render_worker)
            if lsettings.render_workers
            else None
        )
        self.wake = asyncio.Event()
        # Built once (reading the CA file): a CA file that cannot be read stops the start.
        self.tls_context = smtp_client.tls_context(lsettings.smtp_ca_file)

    @property
    def lease_s(self) -> float:
        """How long a letter may stay in ``sending`` before its sender is presumed dead: an
        SMTP conversation times out sooner, so no live sender (of any instance) holds it."""
        return self.ls.smtp_timeout_s + 5.0

    async def reconcile(self) -> dict[str, int]:
        """Settle letters a dead sender (this process before a crash, or another instance)
        left in ``sending``. Runs at start and then every lease."""
        settled = {"sent": 0, "resend": 0, "uncertain": 0}
        async with self.pool.acquire() as conn, conn.transaction():
            stuck = await outbox.in_sending(conn, self.lease_s)
            if not stuck:
                return settled
            known = self.archive.message_ids() if self.archive else None
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

    async def queue_joined(self) -> int:
        """Letters (held) for councils registered after a close whose letters were already
        queued: the projector adds them to the year's snapshot when their registration is
        read, whenever that is."""
        queued = 0
        async with self.pool.acquire() as conn:
            for close_id, year in await outbox.handled_closes(conn):
                joined = await joined_after_close(conn, year)
                missing = await outbox.without_letter(conn, year, joined) if joined else []
                if missing:
                    inputs = await snapshot_inputs(conn, year, missing)
                    queued += await outbox.create_for_close(
                        conn, close_id, year, inputs, self.ls.message_id_domain
                    )
        if queued:
            log.warning("letters queued (held) for councils registered after the close",
                        letters=queued)  # fmt: skip
        return queued

    async def run(self, stop: asyncio.Event) -> None:
        # Start the render processes (or load WeasyPrint here) now, while nothing waits.
        warming = asyncio.get_running_loop().run_in_executor(
            self.executor, _warm_up if self.executor is None else _noop
        )
        warming.add_done_callback(_log_failure)
        next_reconcile = 0.0
        failures = 0
        while not stop.is_set():
            try:
                if time.monotonic() >= next_reconcile:
                    await self.reconcile()
                    await self.queue_joined()
                    next_reconcile = time.monotonic() + min(self.lease_s, 10.0)
                busy = await self.render_and_send() + await self.relay()
            except Exception as exc:
                # A database or broker outage: back off (capped), say so once per attempt,
                # and carry on by ourselves when it is back. A traceback only for the unexpected.
                failures += 1
                delay = backoff_delay(failures, 0.5, 30.0)
                transient = is_transient(exc)
                log.error(
                    "dispatcher step failed; retrying",
                    transient=transient,
                    attempt=failures,
                    retry_in_s=round(delay, 2),
                    error=f"{type(exc).__name__}: {exc}"[:300],
                    exc_info=not transient,
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
                continue
            if failures:
                log.info("dispatcher recovered", failed_attempts=failures)
                failures = 0
            if not busy:
                self.wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), self.ls.poll_interval_s)
        if self.executor is not None:
            self.executor.shutdown(wait=False, cancel_futures=True)

    async def render_and_send(self) -> int:
        """Send what is rendered while the next letters render: the render processes are
        not left idle during SMTP conversations. Both run to their end before it returns
        (nothing is left running behind a failure); a failure of either is raised."""
        render = asyncio.ensure_future(self.render_some())
        sent = 0
        try:
            while not render.done():
                count = await self.send_some()
                sent += count
                if not count:
                    break
        finally:
            rendered = await asyncio.gather(render, return_exceptions=True)
        if isinstance(rendered[0], BaseException):
            raise rendered[0]
        return int(rendered[0]) + sent

    async def render_some(self, limit: int = 16) -> int:
        loop = asyncio.get_running_loop()
        async with self.pool.acquire() as conn, conn.transaction():
            rows = await outbox.claim(conn, LetterState.PENDING, limit)
            if not rows:
                return 0
            crash_point("during_render")
            results = await asyncio.gather(
                *(
                    loop.run_in_executor(
                        self.executor, render_inputs, r.inputs.to_json(), r.version
                    )
                    for r in rows
                ),
                return_exceptions=True,
            )
            transient = [r for r in results if isinstance(r, BaseException)
                         and not isinstance(r, RenderRefused)]  # fmt: skip
            if transient:
                raise transient[0]  # nothing of the batch is stored: rendered again later
            for row, result in zip(rows, results, strict=True):
                if isinstance(result, RenderRefused):
                    log.error("letter cannot be rendered: failed, for an operator",
                              council=row.council, reason=str(result)[:300])  # fmt: skip
                    await outbox.mark_render_refused(conn, row, str(result))
                    continue
                assert not isinstance(result, BaseException)
                template_version, text, html, pdf, sha, _ = result
                await outbox.mark_rendered(
                    conn,
                    row,
                    template_version=template_version,
                    text=text,
                    html=html,
                    pdf=pdf,
                    sha=sha,
                )
        for result in results:  # committed: each render counts once
            if not isinstance(result, BaseException):
                metrics.rendered(result[-1])
        log.info("letters rendered", count=len(rows))
        return len(rows)

    async def send_some(self) -> int:
        async with self.pool.acquire() as conn, conn.transaction():
            rows = await outbox.claim(conn, LetterState.RENDERED, self.ls.send_concurrency)
            for row in rows:
                await outbox.mark_sending(conn, row.id)
        if rows:
            # Every send runs to its end before the next step: none is left behind in the
            # background when another one fails.
            results = await asyncio.gather(
                *(self._send(row) for row in rows), return_exceptions=True
            )
            for result in results:
                if isinstance(result, BaseException):
                    raise result
        return len(rows)

    async def _send(self, row: outbox.OutboxRow) -> None:
        async def fetch(conn: asyncpg.Connection) -> Any:
            return await conn.fetchrow(
                "SELECT text_body, html_body, pdf FROM letters.outbox WHERE id = $1", row.id
            )

        stored = await self._in_outbox("read the rendered letter", row, fetch)
        assert stored is not None
        try:
            # Inside: the addressee as stored is checked again by the contract's rules.
            letter = row.inputs.letter(row.version)
            message = build_email(
                letter,
                stored["text_body"],
                stored["html_body"],
                bytes(stored["pdf"]),
                sender=self.ls.sender,
                reply_to=self.ls.reply_to,
                # The council's own copies (its leader, the scrutiny chair: the register),
                # then the service-wide ones.
                cc=[*row.inputs.copy_recipients, *self.ls.cc],
                bcc=self.ls.bcc,
                message_id_domain=self.ls.message_id_domain,
            )
        except Exception as exc:  # UnbuildableEmail, an addressee the contract refuses...
            # A header the email package refuses (a line break in a name, say: the contract
            # refuses those, but a letter registered before it did may hold one; or one of
            # the AR_LETTERS_* addresses). The letter is committed as `sending`: it must leave
            # it now, as `failed` with the reason, or it would turn `uncertain` after the
            # lease. No retry builds it differently.
            detail = str(exc) if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}"
            await self._failed(
                row,
                f"the e-mail could not be built: {escape_unsafe(detail)[:500]}; fix the "
                f"addressee (a re-issue) or AR_LETTERS_SENDER/REPLY_TO/CC/BCC; {RESEND}",
                permanent=True,
                how=Transition.CANNOT_SEND,
            )
            return
        crash_point("before_send")
        metrics.send_started()
        try:
            response = await smtp_client.send(
                message,
                host=self.settings.smtp_host,
                port=self.settings.smtp_port,
                settings=self.ls,
                context=self.tls_context,
            )
        except CannotSendSafely as exc:
            await self._failed(row, exc.reason, permanent=True, how=Transition.CANNOT_SEND)
            return
        except aiosmtplib.SMTPResponseException as exc:
            await self._failed(row, f"{exc.code} {exc.message}", permanent=exc.code >= 500)
            return
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            detail = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in exc.recipients)
            await self._failed(row, detail, permanent=all(c >= 500 for c in codes))
            return
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            await self._failed(row, f"{type(exc).__name__}: {exc}", permanent=False)
            return
        except Exception as exc:
            # Unexpected (a defect here or in aiosmtplib): retried like a transient failure,
            # so the letter is never left in sending, and failed when the attempts run out.
            log.error("letter send failed unexpectedly", council=row.council, exc_info=True)
            await self._failed(row, f"{type(exc).__name__}: {exc}", permanent=False)
            return
        crash_point("after_send")

        async def sent(conn: asyncpg.Connection) -> None:
            if lifecycle.allows(Transition.ACCEPTED, await outbox.lock_state(conn, row.id)):
                await outbox.mark_sent(conn, row, response)

        await self._in_outbox("record the letter as sent", row, sent)
        metrics.sent()
        log.info(
            "letter sent",
            council=row.council,
            year=str(row.year),
            version=row.version,
            message_id=row.message_id,
        )

    async def _in_outbox(
        self, what: str, row: outbox.OutboxRow, step: Callable[[asyncpg.Connection], Awaitable[T]]
    ) -> T:
        """One short outbox transaction around the SMTP conversation, retried through a
        database outage until it commits. The letter is already committed as ``sending``:
        giving up would leave it there until the service restarts, and a letter the SMTP
        server accepted would never be recorded as sent. Each step checks the letter is
        still ``sending``, so a retry after a commit whose answer was lost changes nothing."""
        attempt = 0
        while True:
            try:
                async with self.pool.acquire() as conn, conn.transaction():
                    result = await step(conn)
            except Exception as exc:
                if not is_transient(exc):
                    raise
                attempt += 1
                delay = backoff_delay(attempt, 0.2, 10.0)
                log.warning(
                    "database unavailable; retrying the outbox update",
                    what=what,
                    council=row.council,
                    attempt=attempt,
                    retry_in_s=round(delay, 2),
                    error=f"{type(exc).__name__}: {exc}"[:300],
                )
                await asyncio.sleep(delay)
                continue
            if attempt:
                log.info(
                    "outbox updated after retrying",
                    what=what,
                    council=row.council,
                    attempts=attempt + 1,
                )
            return result

    async def _failed(
        self,
        row: outbox.OutboxRow,
        detail: str,
        *,
        permanent: bool,
        how: Transition | None = None,
    ) -> None:
        """Record a send that did not happen: ``how`` when the service itself refused it
        (CANNOT_SEND), else what the lifecycle decides from the SMTP server's answer."""
        how = how or lifecycle.after_failed_send(
            permanent=permanent, attempts=row.attempts, max_attempts=self.ls.max_attempts
        )
        metrics.send_failed(
            permanent=permanent,
            refused=lifecycle.target(how) is LetterState.FAILED,
            not_sent=how is Transition.CANNOT_SEND,
        )
        await self._in_outbox(
            "record the failed attempt",
            row,
            lambda conn: self._record_failure(conn, row, detail, permanent, how),
        )

    async def _record_failure(
        self,
        conn: asyncpg.Connection,
        row: outbox.OutboxRow,
        detail: str,
        permanent: bool,
        how: Transition,
    ) -> None:
        if lifecycle.allows(how, await outbox.lock_state(conn, row.id)):
            if lifecycle.target(how) is LetterState.FAILED:
                await outbox.mark_failed(conn, row, detail, by=how)
                log.error(
                    "letter refused",
                    council=row.council,
                    year=str(row.year),
                    permanent=permanent,
                    response=detail[:300],
                )
            else:
                delay = backoff_delay(row.attempts + 1, self.ls.retry_base_s, 300.0)
                await outbox.mark_retry(conn, row, detail, delay)
                log.warning(
                    "letter send failed; will retry",
                    council=row.council,
                    year=str(row.year),
                    retry_in_s=round(delay, 1),
                    error=detail[:300],
                )

    async def relay(self) -> int:
        async with self.pool.acquire() as conn:
            events = await outbox.unpublished_events(conn)
            if not events:
                return 0
            for e in events:
                await self.publish(e["value"], e["key"])
            await outbox.mark_published(conn, [e["id"] for e in events])
        return len(events)
