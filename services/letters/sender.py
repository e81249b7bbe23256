"""Sending rendered letters: claim, commit as ``sending``, one SMTP conversation each, and
record what came of it.

Exactly once, as GOV.UK Notify and every good outbox does it: a letter is committed as
``sending`` before the SMTP conversation and carries a Message-ID derived from its
identity; what a crash leaves in ``sending`` is settled by reconcile.py before it may be
sent again.
"""

from __future__ import annotations

import asyncio
from email.message import EmailMessage

import asyncpg
import structlog

from services.domain import letter_lifecycle as lifecycle
from services.domain.letter import Letter
from services.domain.letter_lifecycle import LetterState, Transition
from services.letters import metrics, outbox, smtp_client
from services.letters.case_list_files import (
    CSV_MEDIA_TYPE,
    XLSX_MEDIA_TYPE,
    CaseListFiles,
    file_stem,
)
from services.letters.config import LettersSettings
from services.letters.email import Attachment, build_email
from services.letters.faults import crash_point
from services.letters.outbox_commit import commit_until_done
from services.letters.relay import Publish, relay_events
from services.letters.send_failures import SendFailure, is_expected, send_failure, unbuildable
from services.platform.db import Conn
from services.platform.retry import Backoff
from services.platform.settings import Settings

log = structlog.get_logger(__name__)

# A letter the SMTP server turned away for now waits this long at most before its next try.
MAX_RETRY_DELAY_S = 300.0


def build_messages(
    row: outbox.OutboxRow, letter: Letter, stored: outbox.RenderedBodies, ls: LettersSettings
) -> tuple[EmailMessage, list[EmailMessage]]:
    """The chief executive's message, Cc the council's link officers (the register's copy
    recipients whose role says so), with the council's case list attached and the archive's
    Bcc (reconcile looks for its Message-ID); and the copies' message without the case
    list: the council's other copies (its leader, the scrutiny chair: the register), then
    the service-wide ones (docs/domain.md §17)."""
    attachments = case_list_attachments(row, stored.case_list)
    main = build_email(
        letter, stored.text, stored.html, stored.pdf,
        sender=ls.sender, reply_to=ls.reply_to, message_id_domain=ls.message_id_domain,
        cc=row.inputs.link_officers, bcc=ls.bcc, attachments=attachments,
    )  # fmt: skip
    copy_to = [*row.inputs.other_copies, *ls.cc]
    if not copy_to:
        return main, []
    copies = build_email(
        letter, stored.text, stored.html, stored.pdf,
        sender=ls.sender, reply_to=ls.reply_to, message_id_domain=ls.message_id_domain,
        cc=copy_to, copies=True,
    )  # fmt: skip
    return main, [copies]


def case_list_attachments(row: outbox.OutboxRow, files: CaseListFiles | None) -> list[Attachment]:
    if files is None:
        return []
    stem = file_stem(row.council, str(row.year), row.version)
    return [
        Attachment(f"{stem}.xlsx", XLSX_MEDIA_TYPE, files.xlsx),
        Attachment(f"{stem}.csv", CSV_MEDIA_TYPE, files.csv),
    ]


class Sender:
    def __init__(
        self,
        pool: asyncpg.Pool,
        settings: Settings,
        lsettings: LettersSettings,
        publish: Publish,
    ) -> None:
        self.pool = pool
        self.publish = publish
        self.delivery_timeout_s = settings.kafka_delivery_timeout_ms / 1000
        self.settings = settings
        self.ls = lsettings
        # Built once (reading the CA file): a CA file that cannot be read stops the start.
        self.tls_context = smtp_client.tls_context(lsettings.smtp_ca_file)

    async def send_rendered(self) -> int:
        """Send up to ``send_concurrency`` rendered letters that are due, at the same time;
        returns how many were taken."""
        async with self.pool.acquire() as conn, conn.transaction():
            rows = await outbox.claim(conn, LetterState.RENDERED, self.ls.send_concurrency)
            for row in rows:
                await outbox.mark_sending(conn, row.id)
        if rows and not await self.claims_in_the_log(rows):
            return len(rows)
        if rows:
            # Every send runs to its end before the next step: none is left behind in the
            # background when another one fails.
            results = await asyncio.gather(
                *(self.send(row) for row in rows), return_exceptions=True
            )
            for result in results:
                if isinstance(result, BaseException):
                    raise result
        return len(rows)

    async def claims_in_the_log(self, rows: list[outbox.OutboxRow]) -> bool:
        """Relay the claims (their LetterStateChanged to ``sending``) to the letters topic
        before any SMTP conversation: a letter is never e-mailed before the log knows it may
        have gone, so that a restore from the log after losing the database finds it
        ``sending`` (then ``uncertain``), never ``rendered`` to be sent again
        (docs/operations.md, "Restoring the database from the log"). When the log cannot
        take them (Kafka away), nothing is sent: each letter goes back to be tried later."""
        try:
            await relay_events(self.pool, self.publish, self.delivery_timeout_s)
        except Exception as exc:
            log.warning(
                "letters not sent: their claims could not be written to the log",
                letters=len(rows),
                error=f"{type(exc).__name__}: {exc}"[:300],
            )
            failure = SendFailure(
                "not sent: the letters topic did not take the claim (Kafka unreachable); "
                "tried again later",
                permanent=False,
            )
            for row in rows:
                await self.record_failure(row, failure)
            return False
        return True

    async def send(self, row: outbox.OutboxRow) -> None:
        """One letter committed as ``sending``: mail it and record the outcome. It leaves
        ``sending`` whatever happens, unless the service stops first."""
        stored = await commit_until_done(
            self.pool,
            f"read the rendered {row.council} letter",
            lambda conn: outbox.rendered_bodies(conn, row.id),
        )
        assert stored is not None
        try:
            # Inside: the addressee as stored is checked again by the contract's rules.
            letter = row.inputs.letter(row.version)
            message, copies = build_messages(row, letter, stored, self.ls)
        except Exception as exc:  # UnbuildableEmail, an addressee the contract refuses...
            # The letter is committed as `sending`: it must leave it now, as `failed` with
            # the reason, or it would turn `uncertain` after the lease.
            await self.record_failure(row, unbuildable(exc))
            return
        crash_point("before_send")
        metrics.send_started()
        try:
            response = await smtp_client.send(
                message,
                then=copies,
                host=self.settings.smtp_host,
                port=self.settings.smtp_port,
                settings=self.ls,
                context=self.tls_context,
            )
        except Exception as exc:
            if not is_expected(exc):
                log.error("letter send failed unexpectedly", council=row.council, exc_info=True)
            await self.record_failure(row, send_failure(exc))
            return
        crash_point("after_send")

        async def sent(conn: Conn) -> None:
            if lifecycle.allows(Transition.ACCEPTED, await outbox.lock_state(conn, row.id)):
                await outbox.mark_sent(conn, row, response)

        await commit_until_done(self.pool, f"record the {row.council} letter as sent", sent)
        metrics.sent()
        log.info(
            "letter sent",
            council=row.council,
            year=str(row.year),
            version=row.version,
            message_id=row.message_id,
        )

    async def record_failure(self, row: outbox.OutboxRow, failure: SendFailure) -> None:
        """Record a send that did not happen: ``failure.how`` when the service itself refused
        it (CANNOT_SEND), else what the lifecycle decides from the SMTP server's answer."""
        how = failure.how or lifecycle.after_failed_send(
            permanent=failure.permanent, attempts=row.attempts, max_attempts=self.ls.max_attempts
        )
        metrics.send_failed(
            permanent=failure.permanent,
            refused=lifecycle.target(how) is LetterState.FAILED,
            not_sent=how is Transition.CANNOT_SEND,
        )

        async def record(conn: Conn) -> None:
            if not lifecycle.allows(how, await outbox.lock_state(conn, row.id)):
                return
            if lifecycle.target(how) is LetterState.FAILED:
                await outbox.mark_failed(conn, row, failure.detail, by=how)
                log.error("letter refused", council=row.council, year=str(row.year),
                          permanent=failure.permanent, response=failure.detail[:300])  # fmt: skip
            else:
                # The letter's own schedule: its attempts so far are its failures.
                delay = Backoff(self.ls.retry_base_s, MAX_RETRY_DELAY_S, row.attempts).next()
                await outbox.mark_retry(conn, row, failure.detail, delay)
                log.warning("letter send failed; will retry", council=row.council,
                            year=str(row.year), retry_in_s=round(delay, 1),
                            error=failure.detail[:300])  # fmt: skip

        await commit_until_done(self.pool, f"record the failed {row.council} attempt", record)
