"""The letter service: a FastStream app that turns a year-end close into letters.

It listens to the year-end topic. For each close it waits until the projector's snapshot
of that year is complete, writes one outbox row per council (idempotently), and only then
acknowledges the close, so a crash before that redelivers it. A dispatcher task renders,
sends and reports the letters. Replays and rebuilds never reach this service: they
publish nothing.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from faststream import AckPolicy, FastStream
from faststream.kafka import KafkaBroker, KafkaMessage

from contracts.codec import RejectedMessage, decode
from contracts.events import FinancialYearClosed
from contracts.topics import LETTERS, YEAR_END
from services.letters import outbox
from services.letters.config import LettersSettings, get_letters_settings
from services.letters.dispatch import Dispatcher
from services.platform.db import connect_pool
from services.platform.kafka_security import faststream_security
from services.platform.log_throttle import throttle_repeats
from services.platform.logging import configure_logging
from services.platform.migrations import ensure_migrated
from services.platform.settings import Settings, get_settings
from services.readmodel.letter_reads import snapshot_inputs, wait_for_snapshot

log = structlog.get_logger(__name__)


def create_app(
    settings: Settings | None = None, lsettings: LettersSettings | None = None
) -> FastStream:
    settings = settings or get_settings()
    ls = lsettings or get_letters_settings()
    broker = KafkaBroker(
        settings.kafka_bootstrap, acks="all", enable_idempotence=True, client_id="letters",
        logger=None, security=faststream_security(settings),
    )  # fmt: skip
    state: dict[str, Any] = {}

    async def raw(message: Any) -> Any:
        return None

    subscriber = broker.subscriber(
        settings.topic(YEAR_END),
        group_id=ls.group_id,
        ack_policy=AckPolicy.MANUAL,
        auto_offset_reset="earliest",
        session_timeout_ms=ls.session_timeout_ms,
        heartbeat_interval_ms=min(3000, ls.session_timeout_ms // 3),
        decoder=raw,
    )

    @subscriber
    async def on_year_closed(body: Any, message: KafkaMessage) -> None:
        record: Any = message.raw_message
        try:
            await handle_close(record.value)
        except Exception as exc:
            log.error("year close not handled; it will be redelivered", error=str(exc)[:300],
                      exc_info=True)  # fmt: skip
            await message.nack()
            await asyncio.sleep(2.0)
            return
        await message.ack()

    async def handle_close(value: bytes | None) -> None:
        try:
            event = decode(value)
        except RejectedMessage as rejected:
            log.error("unreadable message on the year-end topic; skipped", reason=str(rejected))
            return
        close = event.data
        if not isinstance(close, FinancialYearClosed):
            return
        year = close.financial_year
        structlog.contextvars.bind_contextvars(financial_year=str(year))
        age = datetime.now(UTC) - event.occurred_at
        if age > timedelta(days=ls.close_max_age_days):
            log.warning("close is too old to mail automatically; issue letters by hand",
                        close_id=str(close.close_id), age_days=age.days)  # fmt: skip
            return
        pool = state["pool"]
        log.info("year closed: waiting for the projector's snapshot", close_id=str(close.close_id))
        if not await wait_for_snapshot(pool, year.start_year, ls.snapshot_wait_s):
            raise TimeoutError(f"the {year} snapshot did not complete in {ls.snapshot_wait_s} s")
        async with pool.acquire() as conn:
            inputs = await snapshot_inputs(conn, year)
            created = await outbox.create_for_close(
                conn, close.close_id, year, inputs, ls.message_id_domain
            )
        log.info("letters queued", letters=created)
        state["dispatcher"].wake.set()

    async def publish(value: bytes, key: bytes | None) -> None:
        await broker.publish(value, topic=settings.topic(LETTERS), key=key)

    app = FastStream(broker)

    @app.on_startup
    async def start() -> None:
        configure_logging(settings)
        throttle_repeats()  # a broker outage: a few lines, not a thousand
        pool = await connect_pool(settings, min_size=1, max_size=ls.send_concurrency + 4)
        async with pool.acquire() as conn:
            await ensure_migrated(conn)
        state["pool"] = pool
        state["dispatcher"] = Dispatcher(pool, settings, ls, publish)

    @app.after_startup
    async def started() -> None:
        stop = asyncio.Event()
        state["stop"] = stop
        state["task"] = asyncio.create_task(state["dispatcher"].run(stop))
        log.info("letter service started", topic=settings.topic(YEAR_END), group=ls.group_id)

    @app.on_shutdown
    async def stopping() -> None:
        state["stop"].set()
        await asyncio.wait_for(state["task"], 30)

    @app.after_shutdown
    async def stopped() -> None:
        await state["pool"].close()

    return app
