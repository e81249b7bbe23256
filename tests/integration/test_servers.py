"""The project-local Kafka and PostgreSQL are real servers that behave as the services expect."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from contracts.topics import TOPICS
from services.platform.db import connect_pool, retry_transient
from services.platform.kafka.admin import ensure_topics
from services.platform.kafka.security import process_sasl_kwargs
from services.platform.settings import Settings


async def test_a_message_produced_to_a_fresh_topic_is_consumed_back(kafka_bootstrap: str) -> None:
    topic = f"test.servers.{uuid.uuid4().hex}"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap, **process_sasl_kwargs())
    await admin.start()
    try:
        response = await admin.create_topics([NewTopic(topic, 2, 1)])
        assert [entry[1] for entry in response.topic_errors] == [0]
        producer = AIOKafkaProducer(
            bootstrap_servers=kafka_bootstrap,
            acks="all",
            enable_idempotence=True,
            **process_sasl_kwargs(),
        )
        await producer.start()
        try:
            sent = await producer.send_and_wait(
                topic, b'{"hello": "kafka"}', key=b"E07000223", headers=[("event-type", b"ping")]
            )
        finally:
            await producer.stop()

        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=kafka_bootstrap,
            **process_sasl_kwargs(),
            group_id=f"test-{uuid.uuid4().hex}",
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        try:
            record = await asyncio.wait_for(consumer.getone(), 30)
        finally:
            await consumer.stop()

        assert (record.partition, record.offset) == (sent.partition, sent.offset)
        assert record.key == b"E07000223"
        assert record.value == b'{"hello": "kafka"}'
        assert list(record.headers) == [("event-type", b"ping")]
    finally:
        await admin.delete_topics([topic])
        await admin.close()


async def test_contract_topics_exist_with_their_declared_partitions_and_config(
    kafka_bootstrap: str,
) -> None:
    await ensure_topics(kafka_bootstrap)  # `make up` did this already: then a no-op
    reports = await ensure_topics(kafka_bootstrap)

    assert {r.name: r.action for r in reports} == {t.name: "unchanged" for t in TOPICS}
    assert {r.name: r.partitions for r in reports} == {t.name: t.partitions for t in TOPICS}
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap, **process_sasl_kwargs())
    await admin.start()
    try:
        described = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, t.name) for t in TOPICS]
        )
    finally:
        await admin.close()
    actual = {
        name: {entry[0]: entry[1] for entry in entries}
        for response in described
        for _code, _message, _type, name, entries in response.resources
    }
    for topic in TOPICS:
        assert {k: actual[topic.name][k] for k in topic.config} == topic.config


async def test_automatic_topic_creation_is_off(kafka_bootstrap: str) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, request_timeout_ms=1000, **process_sasl_kwargs()
    )
    await producer.start()
    try:
        with pytest.raises(Exception):  # noqa: B017 - aiokafka raises a timeout or metadata error
            await asyncio.wait_for(producer.send_and_wait(f"nope.{uuid.uuid4().hex}", b"x"), 10)
    finally:
        await producer.stop()


async def test_postgres_is_version_15_and_we_are_the_application_role(
    pg_pool: asyncpg.Pool,
) -> None:
    row = await pg_pool.fetchrow(
        "SELECT current_user, current_database(), current_setting('server_version_num')::int AS v,"
        " current_setting('fsync') AS fsync"
    )
    assert row is not None
    assert (row["current_user"], row["current_database"]) == ("annual_review", "annual_review")
    assert 150000 <= row["v"] < 160000
    assert row["fsync"] == "on"


async def test_a_deadlock_victim_succeeds_when_retried(pg_pool: asyncpg.Pool) -> None:
    table = f"deadlock_{uuid.uuid4().hex[:12]}"
    await pg_pool.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, n int NOT NULL)")
    await pg_pool.execute(f"INSERT INTO {table} VALUES (1, 0), (2, 0)")
    both_locked_first_row = asyncio.Barrier(2)
    tries = {"a": 0, "b": 0}

    def transfer(name: str, first: int, second: int) -> Callable[[], Awaitable[None]]:
        async def attempt() -> None:
            tries[name] += 1
            async with pg_pool.acquire() as conn, conn.transaction():
                await conn.execute(f"UPDATE {table} SET n = n + 1 WHERE id = $1", first)
                if tries[name] == 1:
                    await both_locked_first_row.wait()
                await conn.execute(f"UPDATE {table} SET n = n + 1 WHERE id = $1", second)

        return attempt

    try:
        await asyncio.gather(
            retry_transient(transfer("a", 1, 2), attempts=3, base_delay=0.05, what="a"),
            retry_transient(transfer("b", 2, 1), attempts=3, base_delay=0.05, what="b"),
        )
        rows = await pg_pool.fetch(f"SELECT n FROM {table} ORDER BY id")
        assert [r["n"] for r in rows] == [2, 2]  # both transfers applied exactly once
        assert sorted(tries.values()) == [1, 2]  # the deadlock victim ran twice
    finally:
        await pg_pool.execute(f"DROP TABLE {table}")


async def test_connect_pool_gives_up_after_its_attempts_when_nothing_listens(
    settings: Settings,
) -> None:
    closed = settings.model_copy(
        update={"database_url": "postgresql://annual_review:annual_review@127.0.0.1:9/x"}
    )
    with pytest.raises(OSError):
        await connect_pool(closed, attempts=2)
