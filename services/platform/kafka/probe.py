"""Readiness's view of Kafka: does the broker answer this service's credentials, and how far
does a topic reach (its end offsets, and a consumer group's committed offsets)?

One long-lived consumer without a group (it commits nothing and joins nothing) and, when a
group is asked about, an admin client; both made again after a failure, so a broker that
comes back is seen at the next round. Every call is bounded by ``timeout_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from contracts.topics import TopicSpec
from services.platform.health import NotReady
from services.platform.kafka.security import client_kwargs
from services.platform.settings import Settings


class KafkaProbe:
    def __init__(self, settings: Settings, spec: TopicSpec, *, timeout_s: float = 5.0) -> None:
        self.settings = settings
        self.topic = settings.topic(spec)
        # The declared count: a topic's partitions never change (docs/architecture.md).
        self.partitions = [TopicPartition(self.topic, p) for p in range(spec.partitions)]
        self.timeout_s = timeout_s
        self._consumer: AIOKafkaConsumer | None = None
        self._admin: AIOKafkaAdminClient | None = None

    def _kwargs(self) -> dict[str, Any]:
        ms = int(self.timeout_s * 1000)
        return {**client_kwargs(self.settings), "request_timeout_ms": ms, "client_id": "health"}

    async def end_offsets(self) -> dict[int, int]:
        """Partition -> end offset of the topic; raises NotReady saying what failed."""
        try:
            if self._consumer is None:
                consumer = AIOKafkaConsumer(**self._kwargs(), enable_auto_commit=False)
                self._consumer = consumer
                await asyncio.wait_for(consumer.start(), self.timeout_s)
            ends = await asyncio.wait_for(
                self._consumer.end_offsets(self.partitions), self.timeout_s
            )
        except (Exception, asyncio.CancelledError) as e:
            await self._drop_consumer()
            if isinstance(e, asyncio.CancelledError):
                raise
            raise NotReady(self._unreachable(e)) from None
        return {tp.partition: offset for tp, offset in ends.items()}

    async def committed(self, group: str) -> dict[int, int]:
        """Partition -> the group's committed offset on the topic (absent: none committed)."""
        try:
            if self._admin is None:
                admin = AIOKafkaAdminClient(**self._kwargs())
                self._admin = admin
                await asyncio.wait_for(admin.start(), self.timeout_s)
            offsets = await asyncio.wait_for(
                self._admin.list_consumer_group_offsets(group), self.timeout_s
            )
        except (Exception, asyncio.CancelledError) as e:
            await self._drop_admin()
            if isinstance(e, asyncio.CancelledError):
                raise
            raise NotReady(self._unreachable(e)) from None
        return {
            tp.partition: meta.offset
            for tp, meta in offsets.items()
            if tp.topic == self.topic and meta.offset >= 0
        }

    def _unreachable(self, e: BaseException) -> str:
        what = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
        return f"Kafka at {self.settings.kafka_bootstrap} does not answer ({what})"[:300]

    async def _drop_consumer(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(consumer.stop(), self.timeout_s)

    async def _drop_admin(self) -> None:
        admin, self._admin = self._admin, None
        if admin is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(admin.close(), self.timeout_s)

    async def close(self) -> None:
        await self._drop_consumer()
        await self._drop_admin()
