"""On every partition assignment, seek to the positions stored with the read models.

Kafka's committed offsets are never used: the position that counts is the one committed in
the same transaction as the figures (batch.py), so a rebalance, a restart or a crash
resumes exactly where the last committed batch ended.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

import asyncpg
import structlog
from aiokafka import ConsumerRebalanceListener, TopicPartition

from services.platform.retry import retry
from services.readmodel.positions import read_positions
from services.readmodel.versions import ensure_active_version, use_version

log = structlog.get_logger(__name__)

ReadPositions = Callable[[], Awaitable[dict[int, int]]]


class Seekable(Protocol):
    """What a rebalance needs of the consumer (aiokafka's AIOKafkaConsumer has it)."""

    def seek(self, partition: TopicPartition, offset: int) -> None: ...

    async def seek_to_beginning(self, *partitions: TopicPartition) -> Any: ...


async def stored_positions(pool: asyncpg.Pool, topic: str) -> dict[int, int]:
    """Partition -> next offset stored in the live version (version 1 is created on a new
    database)."""
    async with pool.acquire() as conn:
        schema = await ensure_active_version(conn)
        async with conn.transaction():
            await use_version(conn, schema)
            return await read_positions(conn, topic)


async def seek_to_stored(
    consumer: Seekable,
    assigned: Sequence[TopicPartition],
    topic: str,
    read: ReadPositions,
    *,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """Seek every assigned partition of ``topic`` to its stored position; a partition with
    none stored starts at the beginning. Reading the positions is retried until it works:
    consuming from anywhere else could apply records twice or never."""
    stored = await retry(
        read, what="read the stored positions", base_delay=0.2, max_delay=10.0, sleep=sleep
    )
    fresh = []
    for tp in assigned:
        if tp.topic != topic:
            continue
        offset = stored.get(tp.partition)
        if offset is None:
            fresh.append(tp)
        else:
            consumer.seek(tp, offset)
    if fresh:
        await consumer.seek_to_beginning(*fresh)
    log.info(
        "partitions assigned",
        resume_at={tp.partition: stored.get(tp.partition, 0) for tp in assigned},
    )


class SeekToStoredPositions(ConsumerRebalanceListener):  # type: ignore[misc]
    """aiokafka's rebalance callback. Handed over after construction: FastStream builds the
    consumer when the broker starts (``subscriber``), the pool exists once the service has
    started (``read``)."""

    def __init__(self, topic: str) -> None:
        self.topic = topic
        self.read: ReadPositions | None = None
        self.subscriber: Any = None

    async def on_partitions_revoked(self, revoked: Any) -> None:
        log.info("partitions revoked", partitions=sorted(tp.partition for tp in revoked))

    async def on_partitions_assigned(self, assigned: Any) -> None:
        assert self.read is not None and self.subscriber.consumer is not None
        await seek_to_stored(self.subscriber.consumer, list(assigned), self.topic, self.read)
