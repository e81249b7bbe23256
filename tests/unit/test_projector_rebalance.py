"""A partition assignment resumes every partition at the position stored with the figures.

On fakes, because FastStream's TestKafkaBroker gives every record offset 0: positions
cannot be told apart there. The real rebalances are in tests/integration and reliability.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from types import SimpleNamespace

from aiokafka import TopicPartition

from services.projector.rebalance import SeekToStoredPositions, seek_to_stored, stored_positions
from tests.support.fakes import FakeConnection, FakeConsumer, FakePool, Sleeps

TOPIC = "annual-review.casework.facts"


def tp(partition: int, topic: str = TOPIC) -> TopicPartition:
    return TopicPartition(topic, partition)


def positions(
    stored: dict[int, int], *, failures: int = 0
) -> Callable[[], Awaitable[dict[int, int]]]:
    calls = {"n": 0}

    async def read() -> dict[int, int]:
        calls["n"] += 1
        if calls["n"] <= failures:
            raise ConnectionRefusedError("database not reachable")
        return stored

    return read


async def test_assigned_partitions_resume_at_their_stored_positions() -> None:
    consumer = FakeConsumer()
    read = positions({0: 120, 1: 0, 3: 7})
    await seek_to_stored(consumer, [tp(0), tp(1), tp(2), tp(3)], TOPIC, read)
    # A stored 0 is a position like any other; only a partition never stored starts over.
    assert consumer.seeks == {tp(0): 120, tp(1): 0, tp(3): 7}
    assert consumer.to_beginning == [tp(2)]


async def test_partitions_of_other_topics_are_left_where_they_are() -> None:
    consumer = FakeConsumer()
    read = positions({0: 5})
    await seek_to_stored(consumer, [tp(0), tp(0, "other"), tp(1, "other")], TOPIC, read)
    assert consumer.seeks == {tp(0): 5}
    assert consumer.to_beginning == []


async def test_reading_the_positions_is_retried_and_nothing_is_consumed_meanwhile() -> None:
    consumer = FakeConsumer()
    seeks_while_waiting: list[int] = []
    sleep = Sleeps(during=lambda: seeks_while_waiting.append(len(consumer.seeks)))
    read = positions({0: 9, 1: 4}, failures=3)
    await seek_to_stored(consumer, [tp(0), tp(1)], TOPIC, read, sleep=sleep)
    assert seeks_while_waiting == [0, 0, 0]
    assert len(sleep.delays) == 3 and sleep.delays[0] <= 0.2 < sleep.delays[2]  # backing off
    assert consumer.seeks == {tp(0): 9, tp(1): 4}


async def test_the_listener_seeks_the_consumer_faststream_built() -> None:
    listener = SeekToStoredPositions(TOPIC)
    listener.subscriber = SimpleNamespace(consumer=FakeConsumer())
    listener.read = positions({2: 33})
    await listener.on_partitions_assigned({tp(2), tp(4)})
    assert listener.subscriber.consumer.seeks == {tp(2): 33}
    assert listener.subscriber.consumer.to_beginning == [tp(4)]


async def test_stored_positions_are_read_in_the_live_version() -> None:
    rows = [{"partition": 0, "next_offset": 17}, {"partition": 5, "next_offset": 3}]
    conn = FakeConnection(active_schema="rm_v2", rows=rows)
    assert await stored_positions(FakePool(conn), TOPIC) == {0: 17, 5: 3}
    (transaction,) = conn.transactions
    (search_path, _), (select, args) = transaction.statements
    assert search_path == "SET LOCAL search_path TO rm_v2, public"
    assert "FROM positions" in select and args == (TOPIC,)
