"""The case management system's publisher on the real broker."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.partitioner import DefaultPartitioner

from contracts.codec import RejectedMessage, decode
from contracts.events import DecisionOutcome
from contracts.topics import FACTS, HEADER_EVENT_ID, HEADER_EVENT_TYPE
from services.platform.kafka.security import client_kwargs
from tests.support.casework import complied, council, decided, random_casework
from tests.support.stack import Stack


async def test_published_events_read_back_equal_on_their_councils_partition(stack: Stack) -> None:
    councils = [f"P{i:02d}" for i in range(15)]
    sent = [council(c, "Unitary") for c in councils] + list(random_casework(councils, 500, seed=3))
    positions = await stack.publish(sent)
    assert len(positions) == len(sent)

    consumer = AIOKafkaConsumer(
        stack.facts,
        **client_kwargs(stack.settings),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        records: list[Any] = []  # aiokafka is untyped
        while len(records) < len(sent):
            batch = await consumer.getmany(timeout_ms=3000)
            assert batch, f"only {len(records)} of {len(sent)} came back"
            records += [r for rs in batch.values() for r in rs]
    finally:
        await consumer.stop()

    by_position = {(r.partition, r.offset): r for r in records}
    partitioner = DefaultPartitioner()
    partitions = sorted({p.partition for p in positions} | set(range(FACTS.partitions)))
    event: Any  # a fact always names its council; Envelope.council is optional
    for event, position in zip(sent, positions, strict=True):
        record = by_position[(position.partition, position.offset)]
        assert decode(record.value) == event  # equal to what was sent
        assert record.key == event.council.encode()
        # Kafka's own keyed partitioning: every fact of a council on one partition.
        assert position.partition == partitioner(record.key, partitions, partitions)
        headers = dict(record.headers)
        assert headers[HEADER_EVENT_TYPE] == event.type.encode()
        assert headers[HEADER_EVENT_ID] == str(event.event_id).encode()
    per_council: dict[str, set[int]] = {}
    for event, position in zip(sent, positions, strict=True):
        per_council.setdefault(event.council, set()).add(position.partition)
    assert all(len(p) == 1 for p in per_council.values())


async def test_a_batch_with_an_invalid_event_is_refused_whole_before_the_log(stack: Stack) -> None:
    good = decided("AAA", "Q1", date(2019, 6, 1), "upheld")
    bad = good.model_copy(
        update={
            "data": good.data.model_copy(
                update={"outcome": DecisionOutcome.NOT_UPHELD, "satisfactory_remedy": True}
            )
        }
    )
    before = await stack.end_offsets()
    async with stack.publisher() as p:
        with pytest.raises(RejectedMessage):
            await p.publish_many([complied("AAA", "Q0", good.data.decision_date), bad])
    assert await stack.end_offsets() == before
