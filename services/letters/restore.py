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
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from contracts.codec import decode
from contracts.events import LetterRendered, LetterStateChanged
from contracts.topics import LETTERS_MAX_MESSAGE_BYTES
from services.domain.letter_lifecycle import LetterState, Transition
from services.letters import letter_events, outbox
from services.letters.case_list_files import CaseListFiles
from services.letters.letter_events import insert_published
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
        await insert_published(conn, [(*e, datetime.now(UTC)) for e in events])
        await outbox.restore_closes_handled(conn)
        await outbox.continue_numbering(conn)
        for row in await outbox.listing(conn, state=LetterState.SENDING):
            await outbox.apply(
                conn, row["id"], Transition.UNSETTLED_AFTER_RESTORE,
                "restored from the log: claimed for sending, but no mail server's answer "
                "reached the log; check the mailbox, then confirm-sent or resend",
            )  # fmt: skip
            report.unsettled.append(f"{row['council']} {row['financial_year']} v{row['version']}")
        counts = await outbox.state_counts(conn)
        report.by_state = {state.value: n for state, n in counts.items() if n}
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
    case_list = None
    if rendering is not None and rendering.case_list_xlsx_base64 and rendering.case_list_csv_base64:
        case_list = CaseListFiles(
            base64.b64decode(rendering.case_list_xlsx_base64),
            base64.b64decode(rendering.case_list_csv_base64),
        )
    await outbox.restore_row(
        conn, council=council, year=year, kind=kind, version=version, state=change.state,
        message_id=change.message_id, record=rec, text=text, html=html, pdf=pdf,
        case_list=case_list,
    )  # fmt: skip


async def letters_present(conn: Conn) -> int:
    """How many rows the letter service's tables hold (a restore needs none)."""
    return await outbox.letters_present(conn) + await letter_events.present(conn)


async def forget_letters(conn: Conn) -> None:
    """Empty the letter service's tables (``restore --force``): the log has them all."""
    await outbox.forget_all(conn)
    await letter_events.forget_all(conn)
