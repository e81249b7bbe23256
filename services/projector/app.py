"""The projector service: a FastStream app that folds the facts topic into PostgreSQL.

FastStream's acknowledgement is switched off (``AckPolicy.MANUAL``, no auto-commit): the
position that counts is the one stored with the figures (batch.py). On every partition
assignment the consumer seeks to that stored position, so a rebalance, a restart or a
crash resumes exactly where the last committed transaction ended.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

import asyncpg
import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from faststream import AckPolicy, FastStream
from faststream.kafka import KafkaBroker, KafkaMessage

from contracts.topics import DEAD_LETTERS, FACTS
from services.platform.db import backoff_delay, connect_pool, is_transient
from services.platform.kafka.security import faststream_security
from services.platform.log_throttle import throttle_repeats
from services.platform.logging import configure_logging
from services.platform.migrations import ensure_migrated
from services.platform.settings import Settings, get_settings
from services.projector import metrics
from services.projector.batch import VERSION_SWITCH_LOCK, DeadLetter, Record, project_batch
from services.projector.config import ProjectorSettings, get_projector_settings
from services.projector.store import read_positions
from services.projector.versions import active_schema, ensure_active_version

log = structlog.get_logger(__name__)

# The dead-letter copy of a larger message carries only its first 512 KiB: with the headers it
# must stay under the producer's request limit (max_request_size, 1 MiB by default).
MAX_DEAD_LETTER_VALUE = 512 * 1024


class Projector:
    """Applies batches with retries; never lets a failed batch be skipped."""

    def __init__(
        self, pool: asyncpg.Pool, psettings: ProjectorSettings, broker: KafkaBroker
    ) -> None:
        self.pool = pool
        self.settings = psettings
        self.broker = broker
        self.stopping = False
        self.facts_topic = FACTS.name
        self.dead_letter_topic = DEAD_LETTERS.name

    async def publish_dead_letters(self, dead: Sequence[DeadLetter]) -> None:
        for d in dead:
            r = d.record
            value = r.value or b""
            headers = {
                "dead-letter-reason": d.rejection.reason.value,
                "dead-letter-detail": d.rejection.detail[:1000],
                "original-topic": r.topic,
                "original-partition": str(r.partition),
                "original-offset": str(r.offset),
            }
            if len(value) > MAX_DEAD_LETTER_VALUE:
                # A message as large as the broker takes cannot be copied with these headers:
                # the send would fail for ever and stall the partition. The table has it whole.
                headers["dead-letter-value-truncated"] = f"{len(value)} bytes; whole in the table"
                value = value[:MAX_DEAD_LETTER_VALUE]
            await self.broker.publish(
                value, topic=self.dead_letter_topic, key=r.key, headers=headers
            )

    async def apply(self, records: Sequence[Record]) -> None:
        attempt = 0
        while True:
            started = time.perf_counter()
            try:
                async with self.pool.acquire() as conn:
                    # Shared with every other batch; exclusive only while a rebuild switches.
                    async with conn.transaction():
                        await conn.execute(
                            "SELECT pg_advisory_xact_lock_shared($1)", VERSION_SWITCH_LOCK
                        )
                        schema = await active_schema(conn)
                        assert schema is not None
                        result = await project_batch(
                            conn,
                            schema,
                            records,
                            rule=self.settings.averaging_rule,
                            dead_letter_sink=self.publish_dead_letters,
                        )
                metrics.observe_batch(result, records, time.perf_counter() - started)
                for year in result.years_completed:
                    log.info("financial year snapshot complete", financial_year=year)
                if attempt:
                    log.info("batch applied after retrying", failed_attempts=attempt)
                return
            except Exception as exc:
                attempt += 1
                if self.stopping:
                    raise
                delay = backoff_delay(attempt, 0.2, 30.0)
                log.error(
                    "batch failed; nothing was applied, retrying the same records",
                    transient=is_transient(exc), attempt=attempt, retry_in_s=round(delay, 2),
                    error=f"{type(exc).__name__}: {exc}"[:500],
                    exc_info=not is_transient(exc),
                )  # fmt: skip
                metrics.BATCH_FAILURES.inc()
                metrics.Progress.failed()
                await asyncio.sleep(delay)

    async def seek_to_stored(
        self, consumer: AIOKafkaConsumer, assigned: Sequence[TopicPartition]
    ) -> None:
        attempt = 0
        while True:
            try:
                async with self.pool.acquire() as conn:
                    schema = await ensure_active_version(conn)
                    async with conn.transaction():
                        await conn.execute(f"SET LOCAL search_path TO {schema}, public")
                        stored = await read_positions(conn, self.facts_topic)
                break
            except Exception as exc:
                attempt += 1
                delay = backoff_delay(attempt, 0.2, 10.0)
                log.warning("cannot read stored positions yet", error=str(exc)[:300],
                            retry_in_s=round(delay, 2))  # fmt: skip
                await asyncio.sleep(delay)
        fresh = []
        for tp in assigned:
            if tp.topic != self.facts_topic:
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
    """Wired after construction: FastStream builds the consumer when the broker starts."""

    def __init__(self) -> None:
        self.projector: Projector | None = None
        self.subscriber: Any = None

    async def on_partitions_revoked(self, revoked: Any) -> None:
        log.info("partitions revoked", partitions=sorted(tp.partition for tp in revoked))

    async def on_partitions_assigned(self, assigned: Any) -> None:
        assert self.projector is not None and self.subscriber.consumer is not None
        await self.projector.seek_to_stored(self.subscriber.consumer, list(assigned))


def create_app(
    settings: Settings | None = None, psettings: ProjectorSettings | None = None
) -> FastStream:
    settings = settings or get_settings()
    psettings = psettings or get_projector_settings()
    broker = KafkaBroker(
        settings.kafka_bootstrap,
        acks="all",
        enable_idempotence=True,
        client_id="projector",
        logger=None,
        security=faststream_security(settings),
    )
    state: dict[str, Any] = {}

    async def raw(message: Any) -> Any:
        return None  # the handler reads the raw records; skip FastStream's JSON decoding

    listener = SeekToStoredPositions()
    subscriber = broker.subscriber(
        settings.topic(FACTS),
        group_id=psettings.group_id,
        batch=True,
        max_records=psettings.max_records,
        batch_timeout_ms=psettings.batch_timeout_ms,
        ack_policy=AckPolicy.MANUAL,
        auto_offset_reset="earliest",
        session_timeout_ms=psettings.session_timeout_ms,
        heartbeat_interval_ms=min(3000, psettings.session_timeout_ms // 3),
        listener=listener,
        decoder=raw,
    )
    listener.subscriber = subscriber

    @subscriber
    async def project(body: Any, message: KafkaMessage) -> None:
        records: tuple[Record, ...] = message.raw_message
        await state["projector"].apply(records)

    app = FastStream(broker)

    @app.on_startup
    async def start() -> None:
        configure_logging(settings)
        throttle_repeats()  # a broker outage: a few lines, not a thousand
        pool = await connect_pool(settings, min_size=1, max_size=4)
        async with pool.acquire() as conn:
            await ensure_migrated(conn)
            await ensure_active_version(conn)
        projector = Projector(pool, psettings, broker)
        projector.facts_topic = settings.topic(FACTS)
        projector.dead_letter_topic = settings.topic(DEAD_LETTERS)
        listener.projector = projector
        state["projector"] = projector
        state["pool"] = pool

    @app.after_startup
    async def started() -> None:
        if psettings.metrics_port:
            state["metrics"] = await metrics.serve(
                psettings.metrics_port, state["pool"], psettings.health_max_lag_seconds
            )
        log.info("projector started", group=psettings.group_id, topic=settings.topic(FACTS))

    @app.on_shutdown
    async def stop() -> None:
        state["projector"].stopping = True

    @app.after_shutdown
    async def stopped() -> None:
        if "metrics" in state:
            state["metrics"].close()
        await state["pool"].close()

    return app
