"""The baseline: a projector as a FastStream tutorial would write it.

One handler call per event, one database transaction per event. It keeps the real
projector's rules (positions stored with the figures, event-id dedup, the same fold and
the same SQL) by giving ``project_batch`` a batch of one, so the only difference measured
is batching. Run as ``python -m bench.naive`` with the AR_* environment of a bench slice.
"""

from __future__ import annotations

import asyncio
from typing import Any

from faststream import FastStream
from faststream.kafka import KafkaBroker, KafkaMessage

from contracts.topics import FACTS
from services.platform.db import connect_pool
from services.platform.kafka.security import faststream_security
from services.platform.migrations import apply_migrations, default_folders
from services.platform.office_signature import office_authority
from services.platform.settings import get_settings
from services.projector.batch import project_batch
from services.projector.config import get_projector_settings
from services.readmodel.versions import active_schema, ensure_active_version, share_switch_lock


def create_app() -> FastStream:
    settings = get_settings()
    psettings = get_projector_settings()
    broker = KafkaBroker(
        settings.kafka_bootstrap, security=faststream_security(settings), logger=None
    )
    state: dict[str, Any] = {}

    async def raw(message: Any) -> Any:
        return None

    @broker.subscriber(
        settings.topic(FACTS),
        group_id=psettings.group_id,
        auto_offset_reset="earliest",
        decoder=raw,
    )
    async def project(body: Any, message: KafkaMessage) -> None:
        record: Any = message.raw_message
        async with state["pool"].acquire() as conn, conn.transaction():
            await share_switch_lock(conn)
            schema = await active_schema(conn)
            assert schema is not None
            await project_batch(
                conn,
                schema,
                [record],
                rule=psettings.averaging_rule,
                dead_letter_sink=None,
                authority=office_authority(settings),
            )

    app = FastStream(broker)

    @app.on_startup
    async def start() -> None:
        pool = await connect_pool(settings, min_size=1, max_size=2)
        async with pool.acquire() as conn:
            await apply_migrations(conn, default_folders())
            await ensure_active_version(conn)
        state["pool"] = pool

    @app.after_shutdown
    async def stopped() -> None:
        await state["pool"].close()

    return app


if __name__ == "__main__":
    asyncio.run(create_app().run())
