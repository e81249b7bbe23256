"""Copies of dead letters on the dead-letter topic, with where they came from and why.

Published before the batch commits (batch.py): at least once; readers dedup on the
original (topic, partition, offset).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from contracts.values import escape_unsafe
from services.projector.batch import DeadLetter, DeadLetterSink

# The dead-letter copy of a larger message carries only its first 512 KiB: with the headers it
# must stay under the producer's request limit (max_request_size, 1 MiB by default).
MAX_DEAD_LETTER_VALUE = 512 * 1024

# FastStream's KafkaBroker.publish(value, topic=..., key=..., headers=...)
Publish = Callable[..., Awaitable[Any]]


def dead_letter_message(d: DeadLetter) -> tuple[bytes, dict[str, str]]:
    """The copy's value and headers."""
    r = d.record
    value = r.value or b""
    headers = {
        "dead-letter-reason": d.rejection.reason.value,
        # Escaped as in the table (batch.DeadLetter.row): a header is read by people and
        # tools that a NUL or a bidi control would mislead; the value stays as it came.
        "dead-letter-detail": escape_unsafe(d.rejection.detail[:1000]),
        "original-topic": r.topic,
        "original-partition": str(r.partition),
        "original-offset": str(r.offset),
    }
    if len(value) > MAX_DEAD_LETTER_VALUE:
        # A message as large as the broker takes cannot be copied with these headers:
        # the send would fail for ever and stall the partition. The table has it whole.
        headers["dead-letter-value-truncated"] = f"{len(value)} bytes; whole in the table"
        value = value[:MAX_DEAD_LETTER_VALUE]
    return value, headers


def dead_letter_id(offset: int) -> int:
    """A dead letter's id: its copy's offset on the dead-letter topic (one partition), + 1.
    Derived from the log, so a restore of the database gives every dead letter the id
    operators knew it by (``dlq redrive ID``)."""
    return offset + 1


def dead_letter_sink(publish: Publish, topic: str) -> DeadLetterSink:
    """A batch's dead-letter sink that publishes each copy to ``topic``, in order."""

    async def sink(dead: Sequence[DeadLetter]) -> list[int]:
        ids = []
        for d in dead:
            value, headers = dead_letter_message(d)
            sent = await publish(value, topic=topic, key=d.record.key, headers=headers)
            ids.append(dead_letter_id(sent.offset))
        return ids

    return sink
