"""The projector's status: the facts topic's end offsets (from Kafka) against the positions
stored with the read models."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, TopicPartition

from contracts.topics import FACTS
from services.platform.db import Conn
from services.platform.kafka.admin import partitions_of
from services.platform.kafka.security import client_kwargs, sasl_kwargs
from services.platform.settings import Settings
from services.readmodel.status import Status, read_status


async def end_offsets(settings: Settings) -> dict[int, int]:
    consumer = AIOKafkaConsumer(**client_kwargs(settings), request_timeout_ms=10_000)
    await consumer.start()
    try:
        topic = settings.topic(FACTS)
        parts = await partitions_of(settings.kafka_bootstrap, topic, **sasl_kwargs(settings))
        ends = await consumer.end_offsets([TopicPartition(topic, p) for p in parts])
        return {tp.partition: offset for tp, offset in ends.items()}
    finally:
        await consumer.stop()


async def status(conn: Conn, settings: Settings) -> Status:
    """Lag per partition, dead letters, years closed and rebuilds under way."""
    return await read_status(conn, settings.topic(FACTS), await end_offsets(settings))
