"""The copy of a dead letter on the dead-letter topic: where it came from, why, and a value
the broker will take."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from contracts.codec import Reason, RejectedMessage
from services.projector.batch import DeadLetter
from services.projector.dead_letter_topic import (
    MAX_DEAD_LETTER_VALUE,
    dead_letter_message,
    dead_letter_sink,
)
from tests.support.fakes import FakeRecord


def dead(
    value: bytes | None, offset: int = 12, detail: str = "a second DecisionRecorded for the case"
) -> DeadLetter:
    """A dead letter as the projector makes one (a conflict: a reason it still gives)."""
    record = FakeRecord("facts", 3, offset, key=b"AAA", value=value)
    return DeadLetter(record, RejectedMessage(Reason.CONFLICT, detail))


def test_the_copy_says_where_the_message_came_from_and_why() -> None:
    value, headers = dead_letter_message(dead(b'{"x": 1}', detail="x" * 5000))
    assert value == b'{"x": 1}'
    assert headers == {
        "dead-letter-reason": "conflict",
        "dead-letter-detail": "x" * 1000,
        "original-topic": "facts",
        "original-partition": "3",
        "original-offset": "12",
    }


def test_a_message_too_large_to_copy_whole_is_cut_and_says_so() -> None:
    big = b"y" * (MAX_DEAD_LETTER_VALUE + 1)
    value, headers = dead_letter_message(dead(big))
    assert value == big[:MAX_DEAD_LETTER_VALUE]
    assert headers["dead-letter-value-truncated"] == f"{len(big)} bytes; whole in the table"
    _, whole = dead_letter_message(dead(big[:MAX_DEAD_LETTER_VALUE]))
    assert "dead-letter-value-truncated" not in whole


def test_a_message_without_a_value_is_copied_empty() -> None:
    value, _ = dead_letter_message(dead(None))
    assert value == b""


async def test_the_sink_publishes_each_copy_in_order_with_the_original_key() -> None:
    sent: list[tuple[bytes, dict[str, Any]]] = []

    async def publish(value: bytes, **kw: Any) -> SimpleNamespace:
        sent.append((value, kw))
        return SimpleNamespace(offset=40 + len(sent))  # the broker's RecordMetadata

    sink = dead_letter_sink(publish, "annual-review.dead-letters")
    ids = await sink([dead(b"a", offset=1), dead(b"b", offset=2)])
    # A dead letter's id is its copy's offset on the dead-letter topic + 1: from the log.
    assert ids == [42, 43]
    assert [v for v, _ in sent] == [b"a", b"b"]
    assert {kw["topic"] for _, kw in sent} == {"annual-review.dead-letters"}
    assert [kw["key"] for _, kw in sent] == [b"AAA", b"AAA"]
    assert [kw["headers"]["original-offset"] for _, kw in sent] == ["1", "2"]


def test_a_restore_numbers_each_dead_letter_by_its_latest_copy() -> None:
    """A copy published again after a crash (at least once): the later copy is the one whose
    batch committed; a record on the topic that is no copy is passed over."""
    from services.platform.kafka.topic_reader import TopicRecord
    from services.projector.restore import copies

    def copy(offset: int, original: int) -> TopicRecord:
        headers = (("original-topic", b"casework.facts"), ("original-partition", b"3"),
                   ("original-offset", str(original).encode()))  # fmt: skip
        return TopicRecord(0, offset, b"AAA", b"x", headers)

    found = copies([copy(0, 7), copy(1, 9), copy(2, 7), TopicRecord(0, 3, None, b"?")])
    assert found == [("casework.facts", 3, 7, 1), ("casework.facts", 3, 9, 2),
                     ("casework.facts", 3, 7, 3)]  # fmt: skip
    assert {(t, p, o): i for t, p, o, i in found} == {
        ("casework.facts", 3, 7): 3, ("casework.facts", 3, 9): 2,
    }  # fmt: skip
