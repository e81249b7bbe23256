"""The letter service: a FastStream app that turns a year-end close into letters.

It listens to the year-end topic. For each close it waits until the projector's snapshot
of that year is complete, writes one outbox row per council (idempotently), and only then
acknowledges the close, so a crash before that redelivers it (year_closed.py). A
dispatcher task renders, sends and reports the letters (dispatcher.py). Replays and
rebuilds never reach this service: they publish nothing. This module only wires them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta
from typing import Any
from uuid import UUID

import asyncpg
import structlog
from faststream import AckPolicy, FastStream
from faststream.kafka import KafkaBroker, KafkaMessage

from contracts.events import FinancialYearClosed
from contracts.financial_year import FinancialYear
from contracts.topics import LETTERS, LETTERS_MAX_MESSAGE_BYTES, YEAR_END
from services.domain.letter_inputs import LetterInputs
from services.domain.letter_lifecycle import LetterState
from services.domain.narrative_book import NarrativeVersion, pinned
from services.letters import metrics, outbox
from services.letters.config import LettersSettings, get_letters_settings
from services.letters.dispatcher import Dispatcher
from services.letters.narrative_registry import load_book
from services.letters.readiness import LettersReadiness
from services.letters.year_closed import CloseHandling, HoldReasons, NewLetter, handle_close
from services.platform import db
from services.platform.health import HealthEndpoint, NotReady
from services.platform.kafka.connection import bootstrap_servers, client_timeouts
from services.platform.kafka.probe import KafkaProbe
from services.platform.kafka.security import faststream_security
from services.platform.log_throttle import throttle_repeats
from services.platform.logging import configure_logging
from services.platform.migrations import ensure_migrated
from services.platform.retry import Backoff
from services.platform.service import prepare_kafka
from services.platform.settings import Settings, get_settings
from services.readmodel.letter_reads import hold_reasons, snapshot_inputs, wait_for_snapshot

log = structlog.get_logger(__name__)

CLOSE_RETRY_BASE_S = 2.0
CLOSE_RETRY_MAX_S = 10.0


def create_app(
    settings: Settings | None = None, lsettings: LettersSettings | None = None
) -> FastStream:
    settings = settings or get_settings()
    ls = lsettings or get_letters_settings()
    broker = KafkaBroker(
        bootstrap_servers(settings), acks="all", enable_idempotence=True, client_id="letters",
        logger=None, security=faststream_security(settings), **client_timeouts(settings),
        # LetterRendered carries the letter whole (contracts/topics.py, LETTERS).
        compression_type="gzip", max_request_size=LETTERS_MAX_MESSAGE_BYTES,
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

    # A close not handled is redelivered (nack seeks back to it) after a pause that grows
    # while it keeps failing (the database away, a snapshot slow to complete).
    redelivery = Backoff(CLOSE_RETRY_BASE_S, CLOSE_RETRY_MAX_S)

    @subscriber
    async def on_year_closed(body: Any, message: KafkaMessage) -> None:
        record: Any = message.raw_message
        try:
            await handle_close(record.value, state["close_handling"])
        except Exception as exc:
            delay = redelivery.next()
            log.error("year close not handled; it will be redelivered", error=str(exc)[:300],
                      attempt=redelivery.failures, retry_in_s=round(delay, 2),
                      exc_info=True)  # fmt: skip
            await message.nack()
            await asyncio.sleep(delay)
            return
        redelivery.reset()
        await message.ack()
        metrics.close_handled()

    async def publish(value: bytes, key: bytes | None) -> None:
        await broker.publish(value, topic=settings.topic(LETTERS), key=key)

    app = FastStream(broker)

    def connected() -> asyncpg.Pool:
        if "pool" not in state:
            raise NotReady("starting: not connected to PostgreSQL yet")
        pool: asyncpg.Pool = state["pool"]
        return pool

    async def letter_counts() -> tuple[dict[LetterState, int], int]:
        async with connected().acquire() as conn:
            return await outbox.state_counts(conn), await outbox.due_count(conn)

    probe = KafkaProbe(settings, YEAR_END, timeout_s=4.0)
    readiness = LettersReadiness(
        ping_database=lambda: db.ping(connected()),
        end_offsets=probe.end_offsets,
        committed_offsets=lambda: probe.committed(ls.group_id),
        letter_counts=letter_counts,
        max_lag_s=ls.health_max_lag_seconds,
    )

    @app.on_startup
    async def start() -> None:
        configure_logging(settings)
        throttle_repeats()  # a broker outage: a few lines, not a thousand
        # First: liveness answers while the service connects, however long that takes.
        state["health"] = HealthEndpoint.start("letters", readiness.checks(), ls)
        try:
            await prepare_kafka(settings, "letters")  # a wrong CA: one sentence, no start
            pool = await db.connect_pool(settings, min_size=1, max_size=ls.send_concurrency + 4)
            async with pool.acquire() as conn:
                await ensure_migrated(conn)
        except BaseException:
            if state["health"] is not None:
                await state["health"].close()
            raise
        state["pool"] = pool
        dispatcher = state["dispatcher"] = Dispatcher(pool, settings, ls, publish)
        state["close_handling"] = close_handling(pool, ls, dispatcher, settings)

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
        if state["health"] is not None:
            await state["health"].close()
        await probe.close()
        await state["pool"].close()

    return app


def close_handling(
    pool: asyncpg.Pool, ls: LettersSettings, dispatcher: Dispatcher, settings: Settings
) -> CloseHandling:
    """The year-close use case, on this service's database pool and dispatcher."""

    async def wait(year_start: int, timeout_s: float) -> bool:
        return await wait_for_snapshot(pool, year_start, timeout_s)

    async def inputs(year: FinancialYear) -> list[LetterInputs]:
        async with pool.acquire() as conn:
            return await snapshot_inputs(conn, year)

    async def holds(year: FinancialYear) -> HoldReasons:
        async with pool.acquire() as conn:
            return await hold_reasons(conn, year)

    async def create(close_id: UUID, year: FinancialYear, letters: Sequence[NewLetter]) -> int:
        async with pool.acquire() as conn:
            return await outbox.create_for_close(
                conn, close_id, year, letters, ls.message_id_domain
            )

    async def narrative(close: FinancialYearClosed) -> NarrativeVersion | None:
        return pinned(await load_book(settings), close)

    return CloseHandling(
        wait_for_snapshot=wait,
        snapshot_inputs=inputs,
        hold_reasons=holds,
        create_letters=create,
        narrative_for=narrative,
        wake_dispatcher=dispatcher.wake.set,
        max_age=timedelta(days=ls.close_max_age_days),
        snapshot_wait_s=ls.snapshot_wait_s,
    )
