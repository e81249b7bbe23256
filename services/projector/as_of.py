"""The figures as the system knew them at a past moment (``stats --as-of``).

"Then" is where the broker had appended each partition of the facts topic to at that moment:
the facts topic is stamped with the broker's append time (``LogAppendTime``, contracts/topics.py),
so ``offsets_for_times`` maps the moment to, per partition, the first record appended at or
after it; every record before that one counts, none after. A producer's own timestamp
(CreateTime) is not used: any client sets it to whatever it likes, and it need not grow along a
partition (docs/architecture.md, "Figures as of a moment").

The log up to those positions is folded by the rebuild's catch-up (the live projector's batch
step) into a scratch version of the read models, which is never switched to and is dropped as
soon as its figures are read: a replay stopped there, not a second computation of the figures.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

import asyncpg
import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition

from contracts.topics import FACTS
from services.platform.kafka.admin import partitions_of
from services.platform.kafka.security import client_kwargs, sasl_kwargs
from services.platform.settings import Settings
from services.projector.config import ProjectorSettings
from services.projector.rebuild import RebuildProgress, fold_until
from services.readmodel.versions import create_version, drop_scratch, schema_of

log = structlog.get_logger(__name__)


async def positions_at(settings: Settings, moment: datetime) -> dict[int, int]:
    """Per partition of the facts topic, the first offset appended at or after ``moment``
    (aware): the log before it is what the system had been told then. A partition with
    nothing appended since stands at its end."""
    if moment.tzinfo is None:
        raise ValueError("the moment must carry its time zone")
    topic = settings.topic(FACTS)
    found = await partitions_of(settings.kafka_bootstrap, topic, **sasl_kwargs(settings))
    if not found:
        raise LookupError(f"topic {topic} does not exist")
    tps = [TopicPartition(topic, p) for p in found]
    consumer = AIOKafkaConsumer(
        **client_kwargs(settings), group_id=None, enable_auto_commit=False,
        client_id="projector-as-of",
    )  # fmt: skip
    await consumer.start()
    try:
        ms = int(moment.timestamp() * 1000)
        at = await consumer.offsets_for_times({tp: ms for tp in tps})
        end = await consumer.end_offsets(tps)
    finally:
        await consumer.stop()
    return {
        tp.partition: (hit.offset if (hit := at.get(tp)) is not None else end[tp]) for tp in tps
    }


@asynccontextmanager
async def scratch_version(
    settings: Settings,
    psettings: ProjectorSettings,
    until: dict[int, int],
    *,
    workers: int = 1,
    on_progress: Callable[[RebuildProgress], None] = lambda _: None,
) -> AsyncIterator[tuple[asyncpg.Connection, str]]:
    """A connection and the schema of a new scratch version holding the log folded up to
    ``until`` (partition -> first offset not applied); dropped when the block ends, however
    it ends. Creating a version needs the rights of ``replay`` (docs/security.md)."""
    conn: asyncpg.Connection = await asyncpg.connect(settings.database_url)
    try:
        version = await create_version(conn, "scratch")
        schema = schema_of(version)
        try:
            progress = await fold_until(
                settings, psettings, conn, schema, until, workers=workers, on_progress=on_progress
            )
            log.info("scratch version folded", schema=schema, events=progress.applied,
                     until=until)  # fmt: skip
            yield conn, schema
        finally:
            await drop_scratch(conn, version)
    finally:
        await conn.close()
