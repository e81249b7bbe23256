"""The projector service: a FastStream app that folds the facts topic into PostgreSQL.

FastStream's acknowledgement is switched off (``AckPolicy.MANUAL``, no auto-commit): the
position that counts is the one stored with the figures (batch.py). On every partition
assignment the consumer seeks to that stored position (rebalance.py), so a rebalance, a
restart or a crash resumes exactly where the last committed transaction ended. Each batch
is applied by apply.py, retried until applied. This module only wires them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

import asyncpg
import structlog
from faststream import AckPolicy, FastStream
from faststream.kafka import KafkaBroker, KafkaMessage

from contracts.topics import DEAD_LETTERS, FACTS
from services.platform import db
from services.platform.health import HealthEndpoint, NotReady
from services.platform.kafka.connection import bootstrap_servers, client_timeouts
from services.platform.kafka.probe import KafkaProbe
from services.platform.kafka.security import faststream_security
from services.platform.log_throttle import throttle_repeats
from services.platform.logging import configure_logging
from services.platform.migrations import ensure_migrated
from services.platform.office_signature import office_authority
from services.platform.service import prepare_kafka
from services.platform.settings import Settings, get_settings
from services.projector.apply_until_done import apply_batch
from services.projector.batch import Record
from services.projector.config import ProjectorSettings, get_projector_settings
from services.projector.dead_letter_topic import dead_letter_sink
from services.projector.readiness import ProjectorReadiness
from services.projector.rebalance import SeekToStoredPositions, stored_positions
from services.readmodel.versions import ensure_active_version

log = structlog.get_logger(__name__)


@dataclass(slots=True)
class _Running:
    """What the service holds between start and stop."""

    pool: asyncpg.Pool | None = None
    health: HealthEndpoint | None = None
    stopping: bool = False

    def connected(self) -> asyncpg.Pool:
        if self.pool is None:
            raise NotReady("starting: not connected to PostgreSQL yet")
        return self.pool


def create_app(
    settings: Settings | None = None, psettings: ProjectorSettings | None = None
) -> FastStream:
    settings = settings or get_settings()
    psettings = psettings or get_projector_settings()
    broker = KafkaBroker(
        bootstrap_servers(settings),
        acks="all",
        enable_idempotence=True,
        client_id="projector",
        logger=None,
        security=faststream_security(settings),
        **client_timeouts(settings),
    )
    facts_topic = settings.topic(FACTS)
    sink = dead_letter_sink(broker.publish, settings.topic(DEAD_LETTERS))
    # Read once, at the start: a new trusted key (rotation) takes a restart.
    authority = office_authority(settings)
    running = _Running()

    async def raw(message: Any) -> Any:
        return None  # the handler reads the raw records; skip FastStream's JSON decoding

    listener = SeekToStoredPositions(facts_topic)
    subscriber = broker.subscriber(
        facts_topic,
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
        assert running.pool is not None
        await apply_batch(
            running.pool,
            records,
            rule=psettings.averaging_rule,
            dead_letter_sink=sink,
            authority=authority,
            stopping=lambda: running.stopping,
        )

    app = FastStream(broker)
    probe = KafkaProbe(settings, FACTS, timeout_s=4.0)
    readiness = ProjectorReadiness(
        ping_database=lambda: db.ping(running.connected()),
        end_offsets=probe.end_offsets,
        stored_positions=lambda: stored_positions(running.connected(), facts_topic),
        max_lag_s=psettings.health_max_lag_seconds,
    )

    @app.on_startup
    async def start() -> None:
        configure_logging(settings)
        throttle_repeats()  # a broker outage: a few lines, not a thousand
        # First: liveness answers while the service connects, however long that takes.
        running.health = HealthEndpoint.start("projector", readiness.checks(), psettings)
        try:
            await prepare_kafka(settings, "projector")  # a wrong CA: one sentence, no start
            pool = await db.connect_pool(settings, min_size=1, max_size=4)
            async with pool.acquire() as conn:
                await ensure_migrated(conn)
                await ensure_active_version(conn)
        except BaseException:
            if running.health is not None:
                await running.health.close()
            raise
        listener.read = partial(stored_positions, pool, facts_topic)
        running.pool = pool

    @app.after_startup
    async def started() -> None:
        log.info(
            "projector started", group=psettings.group_id, topic=facts_topic,
            office_keys=authority.key_ids,
        )  # fmt: skip
        if not authority.key_ids:
            log.warning(
                "no office public key: every close and register event will be refused",
                hint="AR_OFFICE_PUBLIC_KEY_FILES, or office-signing.pub in AR_SECRETS_DIR",
            )

    @app.on_shutdown
    async def stop() -> None:
        running.stopping = True

    @app.after_shutdown
    async def stopped() -> None:
        if running.health is not None:
            await running.health.close()
        await probe.close()
        assert running.pool is not None
        await running.pool.close()

    return app
