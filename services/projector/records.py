"""What the projector reads, a Kafka record, and what it makes of one it refuses: a dead
letter (its row in ``dead_letters`` and its message on the dead-letter topic)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from contracts.codec import RejectedMessage
from contracts.values import escape_unsafe


class Record(Protocol):
    """What the projector needs of a Kafka record (aiokafka's ConsumerRecord has it)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: int
    # Read for the office's signature (services/platform/office_signature.py) only.
    headers: Sequence[tuple[str, bytes]]


@dataclass(frozen=True, slots=True)
class DeadLetter:
    record: Record
    rejection: RejectedMessage

    def row(self) -> dict[str, Any]:
        """The dead_letters row. Its text columns never hold a refused character as it came
        (U+0000 would fail the transaction, a bidi control would spoof what an operator
        reads): they are escaped, ``\\u0000``; the message's bytes are kept as they were."""
        r, e = self.record, self.rejection
        return {
            "topic": r.topic, "partition": r.partition, "offset": r.offset,
            "reason": e.reason.value, "detail": escape_unsafe(e.detail[:2000]),
            "event_id": _escaped(e.event_id), "event_type": _escaped(e.event_type),
            "council": _escaped(e.council),
            "financial_year": e.financial_year.start_year if e.financial_year else None,
            "key": r.key, "value": r.value,
        }  # fmt: skip


def _escaped(text: str | None) -> str | None:
    return None if text is None else escape_unsafe(text)


# Publishes the copies to the dead-letter topic, in order, and returns the dead letters' ids:
# each copy's offset on that topic + 1, so a restore from the log finds the same ids (None:
# nothing published, the table numbers them, as a rebuild does until it takes the live ids).
DeadLetterSink = Callable[[Sequence[DeadLetter]], Awaitable[Sequence[int] | None]]
