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
import mailbox
from concurrent.futures import Executor, ProcessPoolExecutor
from pathlib import Path
from typing import Any

import aiosmtplib
import asyncpg
import structlog

from services.letters import outbox
from services.letters.config import LettersSettings
from services.letters.email import build_email
from services.letters.faults import crash_point
from services.letters.figures import LetterInputs
from services.letters.render import digests, render_letter
from services.platform.db import backoff_delay
from services.platform.settings import Settings

log = structlog.get_logger(__name__)


def render_inputs(context: str, version: int) -> tuple[str, str, str, bytes, tuple[str, str, str]]:
    """Top level, so a worker process can run it: (template version, text, html, pdf, sha)."""
    rendered = render_letter(LetterInputs.from_json(context).letter(version))
    d = digests(rendered)
    return (
        rendered.template_version,
        rendered.text,
        rendered.html,
        rendered.pdf,
        (d.text_sha256, d.html_sha256, d.pdf_sha256),
    )


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
        publish: Any,  # async (topic, value, key) -> None
    ) -> None:
        self.pool = pool
        self.settings = settings
        self.ls = lsettings
        self.publish = publish
        self.archive = (
            MaildirArchive(lsettings.reconcile_maildir) if lsettings.reconcile_maildir else None
        )
        self.executor: Executor | None = (
            ProcessPoolExecutor(lsettings.render_workers) if lsettings.render_workers else None
        )
        self.wake = asyncio.Event()

    async def reconcile(self) -> dict[str, int]:
        """Settle letters a crashed sender left in ``sending``; run before any send."""
        settled = {"sent": 0, "resend": 0, "uncertain": 0}
        async with self.pool.acquire() as conn, conn.transaction():
            stuck = await outbox.in_sending(conn)
            if not stuck:
                return settled
            known = self.archive.message_ids() if self.archive else None
            for row in stuck:
                if known is None:
                    await outbox.set_state(
                        conn, row.id, "uncertain", "sender stopped mid-send; no archive to check"
                    )
                    settled["uncertain"] += 1
                elif row.message_id in known:
                    await outbox.mark_sent(conn, row, "found in the archive after a restart")
                    settled["sent"] += 1
                else:
                    await outbox.set_state(
                        conn, row.id, "rendered", "not in the archive after a restart: resending"
                    )
                    settled["resend"] += 1
        log.warning("reconciled letters left in sending", **settled)
        return settled

    async def run(self, stop: asyncio.Event) -> None:
        await self.reconcile()
        while not stop.is_set():
            try:
                busy = await self.render_some() + await self.send_some() + await self.relay()
            except Exception as exc:
                log.error("dispatcher step failed; retrying", error=str(exc)[:300], exc_info=True)
                busy = 0
                await asyncio.sleep(1.0)
            if not busy:
                self.wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), self.ls.poll_interval_s)
        if self.executor is not None:
            self.executor.shutdown(wait=False, cancel_futures=True)

    async def render_some(self, limit: int = 16) -> int:
        loop = asyncio.get_running_loop()
        async with self.pool.acquire() as conn, conn.transaction():
            rows = await outbox.claim(conn, "pending", limit)
            if not rows:
                return 0
            crash_point("during_render")
            results = await asyncio.gather(
                *(
                    loop.run_in_executor(
                        self.executor, render_inputs, r.inputs.to_json(), r.version
                    )
                    for r in rows
                )
            )
            for row, (template_version, text, html, pdf, sha) in zip(rows, results, strict=True):
                await outbox.mark_rendered(
                    conn,
                    row,
                    template_version=template_version,
                    text=text,
                    html=html,
                    pdf=pdf,
                    sha=sha,
                )
        log.info("letters rendered", count=len(rows))
        return len(rows)

    async def send_some(self) -> int:
        async with self.pool.acquire() as conn, conn.transaction():
            rows = await outbox.claim(conn, "rendered", self.ls.send_concurrency)
            for row in rows:
                await outbox.mark_sending(conn, row.id)
        if rows:
            await asyncio.gather(*(self._send(row) for row in rows))
        return len(rows)

    async def _send(self, row: outbox.OutboxRow) -> None:
        async with self.pool.acquire() as conn:
            stored = await conn.fetchrow(
                "SELECT text_body, html_body, pdf FROM letters.outbox WHERE id = $1", row.id
            )
        assert stored is not None
        letter = row.inputs.letter(row.version)
        message = build_email(
            letter,
            stored["text_body"],
            stored["html_body"],
            bytes(stored["pdf"]),
            sender=self.ls.sender,
            reply_to=self.ls.reply_to,
            cc=self.ls.cc,
            bcc=self.ls.bcc,
            message_id_domain=self.ls.message_id_domain,
        )
        crash_point("before_send")
        try:
            _, response = await aiosmtplib.send(
                message,
                hostname=self.settings.smtp_host,
                port=self.settings.smtp_port,
                timeout=self.ls.smtp_timeout_s,
                username=self.ls.smtp_username,
                password=self.ls.smtp_password,
                start_tls=self.ls.smtp_starttls,
            )
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
        crash_point("after_send")
        async with self.pool.acquire() as conn, conn.transaction():
            await outbox.mark_sent(conn, row, response)
        log.info(
            "letter sent",
            council=row.council,
            year=str(row.year),
            version=row.version,
            message_id=row.message_id,
        )

    async def _failed(self, row: outbox.OutboxRow, detail: str, *, permanent: bool) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            if permanent or row.attempts + 1 >= self.ls.max_attempts:
                await outbox.mark_failed(conn, row, detail)
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
