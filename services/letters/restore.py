"""The letter service's tables written back from the letters topic, after the database was
lost (``annual-review restore``, services/cli/restore.py).

Every change of a letter is on the topic as a LetterStateChanged carrying the letter's
record, and its rendering as a LetterRendered (outbox.py): the latest record of each letter
is its row, with the rendering's bytes, checked against the record's SHA-256. The topic's
records become ``letters.events`` rows already published, so the relay never publishes them
again; ``letters.closes_handled`` follows from the letters each close made.

Nothing is sent again: a letter whose latest record is ``sending`` (claimed, but its answer
never reached the log before the database was lost) becomes ``uncertain``, for an operator
to settle (confirm-sent or resend), by a transition written like any other, so the log
says so too.
"""

from __future__ import annotations

import base64
import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from contracts.codec import decode
from contracts.events import LetterRendered, LetterStateChanged
from contracts.topics import LETTERS_MAX_MESSAGE_BYTES
from services.domain.letter_lifecycle import LetterState, Transition
from services.letters import outbox
from services.platform.db import Conn
from services.platform.kafka.topic_reader import TopicRecord

LetterKey = tuple[str, int, str, int]  # council, financial year (start), kind, version


class RestoreRefused(ValueError):
    """The letters topic cannot give back what the database held: nothing is written."""


@dataclass(slots=True)
class LettersRestored:
    letters: int = 0
    rendered: int = 0
    events: int = 0
    by_state: dict[str, int] = field(default_factory=dict)
    unsettled: list[str] = field(default_factory=list)  # letters made uncertain


async def letters_present(conn: Conn) -> int:
    """How many rows the letter service's tables hold (a restore needs them empty)."""
    n = await conn.fetchval(
        "SELECT (SELECT count(*) FROM letters.outbox) + (SELECT count(*) FROM letters.events) "
        "+ (SELECT count(*) FROM letters.closes_handled)"
    )
    return int(n)


async def forget_letters(conn: Conn) -> None:
    """Empty the letter service's tables (``restore --force``): the log has them all."""
    await conn.execute("TRUNCATE letters.outbox, letters.events, letters.closes_handled")


def _key(e: LetterStateChanged | LetterRendered, council: str) -> LetterKey:
    return (council, e.financial_year.start_year, e.kind, e.version)


async def restore_letters(conn: Conn, records: Sequence[TopicRecord]) -> LettersRestored:
    """Write the letters back from the letters topic's ``records`` (every partition, each in
    its order), in one transaction."""
    latest: dict[LetterKey, LetterStateChanged] = {}
    renderings: dict[LetterKey, LetterRendered] = {}
    events: list[tuple[Any, ...]] = []
    seen: set[UUID] = set()
    for r in records:
        try:
            event = decode(r.value, max_bytes=LETTERS_MAX_MESSAGE_BYTES)
        except ValueError as e:
            raise RestoreRefused(
                f"letters topic, partition {r.partition} offset {r.offset}: {e}"
            ) from None
        if event.event_id in seen:  # relayed twice (at least once): one row
            continue
        seen.add(event.event_id)
        events.append((event.event_id, r.key, r.value, event.occurred_at))
        data, council = event.data, event.council or ""
        if isinstance(data, LetterStateChanged):
            latest[_key(data, council)] = data
        elif isinstance(data, LetterRendered):
            renderings[_key(data, council)] = data
    report = LettersRestored(events=len(events))
    async with conn.transaction():
        for key, change in sorted(latest.items(), key=lambda kv: kv[1].record.id):
            await _write_letter(conn, key, change, renderings.get(key))
            report.letters += 1
            report.rendered += key in renderings and change.record.text_sha256 is not None
        await conn.executemany(
            "INSERT INTO letters.events (event_id, key, value, created_at, published_at) "
            "VALUES ($1, $2, $3, $4, $5)",
            [(*e, datetime.now(UTC)) for e in events],
        )
        await _closes_handled(conn)
        await conn.execute(
            "SELECT setval(pg_get_serial_sequence('letters.outbox', 'id'), "
            "greatest(coalesce((SELECT max(id) FROM letters.outbox), 0), 1))"
        )
        for row in await conn.fetch(
            "SELECT id, council, financial_year, version FROM letters.outbox WHERE state = $1 "
            "ORDER BY id",
            LetterState.SENDING,
        ):
            await outbox.apply(
                conn, row["id"], Transition.UNSETTLED_AFTER_RESTORE,
                "restored from the log: claimed for sending, but no mail server's answer "
                "reached the log; check the mailbox, then confirm-sent or resend",
            )  # fmt: skip
            report.unsettled.append(f"{row['council']} {row['financial_year']} v{row['version']}")
        counts = await conn.fetch("SELECT state, count(*) AS n FROM letters.outbox GROUP BY state")
        report.by_state = dict(Counter({r["state"]: int(r["n"]) for r in counts}))
    return report


async def _write_letter(
    conn: Conn, key: LetterKey, change: LetterStateChanged, rendering: LetterRendered | None
) -> None:
    council, year, kind, version = key
    rec = change.record
    text = html = pdf = None
    if rec.text_sha256 is not None:
        if rendering is None:
            raise RestoreRefused(
                f"{council} {year} v{version} was rendered (LetterStateChanged) but its "
                "LetterRendered is not on the letters topic: its bytes cannot be restored"
            )
        text, html = rendering.text, rendering.html
        pdf = base64.b64decode(rendering.pdf_base64)
        found = (
            hashlib.sha256(text.encode()).hexdigest(),
            hashlib.sha256(html.encode()).hexdigest(),
            hashlib.sha256(pdf).hexdigest(),
        )
        if found != (rec.text_sha256, rec.html_sha256, rec.pdf_sha256):
            raise RestoreRefused(
                f"{council} {year} v{version}: the rendering on the topic does not match the "
                "SHA-256 its record states"
            )
    await conn.execute(
        "INSERT INTO letters.outbox (id, council, financial_year, kind, version, close_id, "
        "source, state, hold_reason, reason, message_id, recipient, context, template_version, "
        "text_body, html_body, pdf, text_sha256, html_sha256, pdf_sha256, attempts, "
        "next_attempt_at, last_error, smtp_response, created_at, rendered_at, sending_at, "
        "sent_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, "
        "$13::jsonb, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, "
        "$28, $29)",
        rec.id, council, year, kind, version, rec.close_id, rec.source, change.state,
        rec.hold_reason, rec.reason, change.message_id, rec.recipient, rec.inputs,
        rec.template_version, text, html, pdf, rec.text_sha256, rec.html_sha256,
        rec.pdf_sha256, rec.attempts, rec.next_attempt_at, rec.last_error, rec.smtp_response,
        rec.created_at, rec.rendered_at, rec.sending_at, rec.sent_at, rec.updated_at,
    )  # fmt: skip


async def _closes_handled(conn: Conn) -> None:
    """Each close's handling: the letters it made in its first transaction (they share its
    creation time, the transaction's), and when."""
    await conn.execute(
        "INSERT INTO letters.closes_handled (close_id, financial_year, letters, handled_at) "
        "SELECT o.close_id, min(o.financial_year), count(*), min(o.created_at) "
        "FROM letters.outbox o WHERE o.close_id IS NOT NULL AND o.created_at = "
        "(SELECT min(f.created_at) FROM letters.outbox f WHERE f.close_id = o.close_id) "
        "GROUP BY o.close_id"
    )
