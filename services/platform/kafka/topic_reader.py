"""Read a small topic whole, from its first record to its end, without a consumer group.

For reference topics that a command reads in full each time (the narratives): no group means
no committed offsets to go stale and no group ACL to grant; reading to the end offsets taken at
the start means a record acknowledged before the call is always seen (read your own writes).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition

from contracts.topics import LETTERS_MAX_MESSAGE_BYTES, TopicSpec
from services.platform.kafka.security import client_kwargs
from services.platform.settings import Settings

FETCH_TIMEOUT_MS = 1_000
READ_TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True)
class TopicRecord:
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()


async def read_whole_topic(
    settings: Settings, spec: TopicSpec, *, timeout_s: float = READ_TIMEOUT_S
) -> list[TopicRecord]:
    """Every record of the settings' ``spec`` topic up to its end offsets when called, in
    (partition, offset) order. Its partitions are the declared ones (contracts/topics.py).
    ``timeout_s``: longer for a restore, which reads the letters and dead-letter topics whole."""
    topic = settings.topic(spec)
    consumer = AIOKafkaConsumer(
        **client_kwargs(settings),
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        request_timeout_ms=10_000,
        # A letter's rendering is one large record (contracts/topics.py, LETTERS).
        max_partition_fetch_bytes=LETTERS_MAX_MESSAGE_BYTES,
        fetch_max_bytes=2 * LETTERS_MAX_MESSAGE_BYTES,
    )
    await consumer.start()
    try:
        assigned = [TopicPartition(topic, p) for p in range(spec.partitions)]
        consumer.assign(assigned)
        ends = await consumer.end_offsets(assigned)
        # An explicit seek: a lazy seek_to_beginning can lose to the fetcher's first reset.
        for tp, offset in (await consumer.beginning_offsets(assigned)).items():
            consumer.seek(tp, offset)
        records: list[TopicRecord] = []
        todo = {tp for tp in assigned if ends[tp] > 0}
        deadline = asyncio.get_running_loop().time() + timeout_s
        while todo:
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"{topic} was not read to its end in {timeout_s} s")
            batch = await consumer.getmany(*todo, timeout_ms=FETCH_TIMEOUT_MS)
            for tp, items in batch.items():
                records.extend(
                    TopicRecord(tp.partition, r.offset, r.key, r.value, tuple(r.headers or ()))
                    for r in items
                    if r.offset < ends[tp]
                )
            for tp in list(todo):  # offsets can have gaps: compare positions, not counts
                if await consumer.position(tp) >= ends[tp]:
                    todo.discard(tp)
        return sorted(records, key=lambda r: (r.partition, r.offset))
    finally:
        await consumer.stop()
