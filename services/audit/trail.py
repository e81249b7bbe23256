"""Read the audit trail back: every OfficeActionTaken on the office-actions topic, oldest
first (docs/office.md, "Audit").

The topic is the record; nothing is copied into a table, so nothing can be edited: the audit
page and the close's state machine (services/domain/close_proposal.py) read the topic whole
each time (one partition, small: one record per person's action). A record that is not a
valid OfficeActionTaken is shown as unreadable, never dropped silently.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from contracts.codec import RejectedMessage, decode
from contracts.events import OfficeAction, OfficeActionTaken
from contracts.financial_year import FinancialYear
from contracts.topics import OFFICE_ACTIONS
from services.domain.close_proposal import Entry
from services.platform.kafka.topic_reader import read_whole_topic
from services.platform.settings import Settings


@dataclass(frozen=True, slots=True)
class AuditEntry:
    offset: int
    at: datetime | None
    actor: str
    via: str
    action: str
    financial_year: FinancialYear | None
    council: str | None
    subject: str | None
    reason: str | None
    details: Mapping[str, str]
    unreadable: str | None = None  # why the record is not an action (shown, not dropped)

    def as_fold_entry(self) -> Entry | None:
        if self.unreadable is not None or self.at is None:
            return None
        return Entry(
            self.action,
            self.actor,
            self.at,
            self.financial_year,
            self.subject,
            self.reason,
            self.details,
        )


def parse_record(offset: int, value: bytes | None) -> AuditEntry:
    try:
        event = decode(value)
        why = None if isinstance(event.data, OfficeActionTaken) else f"a {event.type} event"
    except RejectedMessage as e:
        why = str(e)
    if why is not None:
        return AuditEntry(
            offset, None, "?", "?", "unreadable", None, None, None, None, {}, unreadable=why
        )
    data = event.data
    assert isinstance(data, OfficeActionTaken)
    return AuditEntry(
        offset=offset,
        at=event.occurred_at,
        actor=event.actor or "(nobody named)",
        via=data.via,
        action=str(data.action),
        financial_year=data.financial_year,
        council=event.council,
        subject=data.subject,
        reason=data.reason,
        details=dict(data.details),
    )


async def read_trail(settings: Settings) -> list[AuditEntry]:
    """Every record of the trail up to its end when called (read your own writes)."""
    records = await read_whole_topic(settings, OFFICE_ACTIONS)
    return [parse_record(r.offset, r.value) for r in records]


def fold_entries(entries: Sequence[AuditEntry]) -> list[Entry]:
    return [e for e in (a.as_fold_entry() for a in entries) if e is not None]


@dataclass(frozen=True, slots=True)
class DeadLetterDecided:
    dead_id: int
    status: str  # redriven | resolved
    note: str | None
    at: datetime


_ONE = re.compile(r"^dead letter (\d+)$")


def dead_letter_decisions(trail: Sequence[AuditEntry]) -> list[DeadLetterDecided]:
    """The operators' decisions on dead letters, from the audit trail, in its order: each
    re-drive names its dead letter ("dead letter 7"), each resolve its ids ("7, 9"). The ids
    are the log's own (the dead-letter topic's offsets), so they name the same dead letters
    in a restored version."""
    out: list[DeadLetterDecided] = []
    for e in trail:
        if e.at is None or e.unreadable is not None:
            continue
        if e.action == OfficeAction.DEAD_LETTER_REDRIVEN and e.subject:
            m = _ONE.match(e.subject)
            if m:
                out.append(DeadLetterDecided(int(m.group(1)), "redriven", e.reason, e.at))
        elif e.action == OfficeAction.DEAD_LETTERS_RESOLVED:
            ids = e.details.get("ids", "")
            for part in ids.split(","):
                if part.strip().isdigit():
                    out.append(DeadLetterDecided(int(part), "resolved", e.reason, e.at))
    return out
