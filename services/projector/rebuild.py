"""Rebuild every read model from the start of the log, without downtime.

A new version schema is filled from offset 0 while the live version keeps serving and
the live projector keeps running. The rebuild reads each partition up to the live
projector's stored position (a moving target), then, holding the switch lock so the live
projector pauses between batches, checks both versions stand at the same positions,
compares them table by table, and points the ``readmodel`` views at the new version, all
in one transaction. The live projector then continues in the new version from the same
positions. The figures do not depend on the order partitions are read in, so a difference
is a defect: then the rebuild does not switch (unless told to accept it, as when upgrading
from a version of an older format) and keeps the new version for inspection. Positions
are committed with every batch, so an interrupted rebuild resumes.
Nothing here publishes: no dead-letter topic, no letters.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import resource
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition

from contracts.topics import FACTS
from services.platform.db import is_transient
from services.platform.kafka.admin import partitions_of
from services.platform.kafka.security import client_kwargs, sasl_kwargs
from services.platform.office_signature import OfficeAuthority, office_authority
from services.platform.settings import Settings
from services.projector.batch import BatchResult, Record, project_batch, refuse_record
from services.projector.config import ProjectorSettings
from services.projector.isolation import Steps, isolate
from services.readmodel.comparison import TableComparison, compare_versions
from services.readmodel.dead_letters import carry_decisions_over
from services.readmodel.positions import read_positions
from services.readmodel.versions import (
    activate,
    active_schema,
    create_version,
    latest_building,
    schema_of,
    take_switch_lock,
    use_version,
)

log = structlog.get_logger(__name__)


@dataclass(slots=True)
class RebuildProgress:
    """How far a rebuild is, reported to ``on_progress`` as it goes."""

    applied: int = 0
    remaining: int = 0
    events_per_second: float = 0.0
    started: float = field(default_factory=time.monotonic)
    worker_peak_rss_bytes: list[int] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class RebuildReport:
    version: int
    previous_schema: str | None
    events: int
    seconds: float
    comparison: list[TableComparison]
    switched: bool = True

    @property
    def identical(self) -> bool:
        return all(c.identical for c in self.comparison)


async def rebuild(
    settings: Settings,
    psettings: ProjectorSettings,
    *,
    on_progress: Callable[[RebuildProgress], None] = lambda _: None,
    max_seconds: float | None = None,
    workers: int | None = None,
    accept_differences: bool = False,
) -> RebuildReport | None:
    """Build (or resume building) a new version and switch to it when it is identical to
    the live one (or ``accept_differences``). None if stopped early.

    ``workers`` > 1 splits the partitions between that many processes, each applying its
    own partitions' records with the same batch step (as live projector instances in one
    consumer group would); None: AR_PROJECTOR_REBUILD_WORKERS, else 1."""
    if workers is None:
        workers = int(os.environ.get("AR_PROJECTOR_REBUILD_WORKERS", "1") or 1)
    conn: asyncpg.Connection = await asyncpg.connect(settings.database_url)
    consumer = _consumer(settings, psettings)
    try:
        version = await latest_building(conn)
        if version is None:
            version = await create_version(conn, "building")
            log.info("rebuild started", version=version)
        else:
            log.info("rebuild resumed", version=version)
        schema = schema_of(version)
        await consumer.start()
        topic = settings.topic(FACTS)
        found = await partitions_of(settings.kafka_bootstrap, topic, **sasl_kwargs(settings))
        if not found:
            raise LookupError(f"topic {topic} does not exist: nothing to replay")
        partitions = [TopicPartition(topic, p) for p in found]
        progress = RebuildProgress()
        started = time.monotonic()
        while True:
            live_schema = await active_schema(conn)
            targets = await _positions(conn, live_schema, topic) if live_schema else {}
            if workers > 1 and len(partitions) > 1:
                await _catch_up_in_processes(
                    conn, consumer, settings, psettings, schema, partitions, targets, workers,
                    progress, on_progress,
                )  # fmt: skip
            else:
                consumer.assign(partitions)
                await _catch_up(conn, consumer, schema, partitions, targets, psettings,
                                office_authority(settings), progress, on_progress)  # fmt: skip
            if max_seconds is not None and time.monotonic() - started > max_seconds:
                return None
            report = await _try_switch(
                conn, version, schema, live_schema, topic, progress, started, accept_differences
            )
            if report is not None:
                return report
    finally:
        await consumer.stop()
        await conn.close()


async def fold_until(
    settings: Settings,
    psettings: ProjectorSettings,
    conn: asyncpg.Connection,
    schema: str,
    targets: dict[int, int],
    *,
    workers: int = 1,
    on_progress: Callable[[RebuildProgress], None] = lambda _: None,
) -> RebuildProgress:
    """Fold the facts topic into version ``schema`` from where it stands up to ``targets``
    (partition -> the first offset NOT to apply; a partition not named: nothing), with the
    rebuild's own catch-up (the live projector's batch step): a replay stopped there.
    ``stats --as-of`` builds its scratch version with it (as_of.py)."""
    topic = settings.topic(FACTS)
    partitions = [TopicPartition(topic, p) for p in sorted(targets)]
    progress = RebuildProgress()
    if not partitions:
        return progress
    consumer = _consumer(settings, psettings)
    await consumer.start()
    try:
        if workers > 1 and len(partitions) > 1:
            await _catch_up_in_processes(
                conn, consumer, settings, psettings, schema, partitions, targets, workers,
                progress, on_progress,
            )  # fmt: skip
        else:
            consumer.assign(partitions)
            await _catch_up(conn, consumer, schema, partitions, targets, psettings,
                            office_authority(settings), progress, on_progress)  # fmt: skip
    finally:
        await consumer.stop()
    return progress


async def _positions(conn: asyncpg.Connection, schema: str, topic: str) -> dict[int, int]:
    async with conn.transaction():
        await use_version(conn, schema)
        return await read_positions(conn, topic)


async def _catch_up(
    conn: asyncpg.Connection,
    consumer: AIOKafkaConsumer,
    schema: str,
    partitions: list[TopicPartition],
    targets: dict[int, int],
    psettings: ProjectorSettings,
    authority: OfficeAuthority,
    progress: RebuildProgress,
    on_progress: Callable[[RebuildProgress], None],
) -> None:
    """Apply records until every partition stands exactly at its target (the same batch
    step as the live projector's, with the same office keys: the same records refused)."""
    done = await _positions(conn, schema, partitions[0].topic)
    for tp in partitions:  # records past an earlier target were dropped: fetch them again
        consumer.seek(tp, done.get(tp.partition, 0))
    while True:
        behind = [t for t in partitions if done.get(t.partition, 0) < targets.get(t.partition, 0)]
        progress.remaining = sum(
            targets.get(tp.partition, 0) - done.get(tp.partition, 0) for tp in behind
        )
        on_progress(progress)
        if not behind:
            return
        fetched = await consumer.getmany(*behind, timeout_ms=1000)
        records = [
            r
            for tp, batch in fetched.items()
            for r in batch
            if r.offset < targets.get(tp.partition, 0)
        ]
        if not records:
            continue
        result = await _project(conn, schema, records, psettings, authority)
        done.update(result.next_offsets)
        progress.applied += len(records)
        elapsed = time.monotonic() - progress.started
        progress.events_per_second = progress.applied / elapsed if elapsed > 0 else 0.0


async def _project(
    conn: asyncpg.Connection,
    schema: str,
    records: list[Any],
    psettings: ProjectorSettings,
    authority: OfficeAuthority,
) -> BatchResult:
    """The live projector's batch step, with its isolation of a record the database refuses
    (isolation.py): the same log reaches the same ``store_refused`` dead letters. A transient
    failure stops the rebuild (it resumes from its committed positions)."""

    def attempt(chunk: Sequence[Record]) -> Awaitable[BatchResult]:
        return project_batch(
            conn, schema, chunk, rule=psettings.averaging_rule, dead_letter_sink=None,
            authority=authority,
        )  # fmt: skip

    def refuse(record: Record, error: BaseException) -> Awaitable[BatchResult]:
        return refuse_record(conn, schema, record, error, dead_letter_sink=None)

    async def give_up(error: BaseException) -> None:
        raise error

    try:
        return await attempt(records)
    except Exception as exc:
        if is_transient(exc):
            raise
        return await isolate(records, exc, Steps(attempt, refuse, give_up))


async def _catch_up_in_processes(
    conn: asyncpg.Connection,
    consumer: AIOKafkaConsumer,
    settings: Settings,
    psettings: ProjectorSettings,
    schema: str,
    partitions: list[TopicPartition],
    targets: dict[int, int],
    workers: int,
    progress: RebuildProgress,
    on_progress: Callable[[RebuildProgress], None],
) -> None:
    """Every n-th partition to one of n processes: this one takes the first group with its
    own consumer and a second connection, worker processes the others. Progress is read
    from the positions they all commit."""
    groups = [g for g in (partitions[i::workers] for i in range(workers)) if g]
    mine, theirs = groups[0], groups[1:]
    loop = asyncio.get_running_loop()
    topic = partitions[0].topic
    before = sum((await _positions(conn, schema, topic)).values())
    own: asyncpg.Connection = await asyncpg.connect(settings.database_url)
    context = multiprocessing.get_context("spawn")
    try:
        with ProcessPoolExecutor(len(theirs), mp_context=context) as pool:
            jobs = [
                loop.run_in_executor(
                    pool,
                    _catch_up_process,
                    settings.model_dump(),
                    psettings.model_dump(),
                    schema,
                    [tp.partition for tp in group],
                    topic,
                    targets,
                )
                for group in theirs
            ]
            consumer.assign(mine)
            local = _catch_up(own, consumer, schema, mine, targets, psettings,
                              office_authority(settings), RebuildProgress(),
                              lambda _: None)  # fmt: skip
            pending: set[asyncio.Future[Any]] = {
                asyncio.ensure_future(local),
                *(asyncio.ensure_future(j) for j in jobs),
            }
            while pending:
                finished, pending = await asyncio.wait(pending, timeout=1.0)
                for f in finished:
                    f.result()  # a worker's failure fails the rebuild (it can be resumed)
                done = await _positions(conn, schema, topic)
                progress.applied = sum(done.values()) - before
                progress.remaining = sum(max(0, o - done.get(p, 0)) for p, o in targets.items())
                elapsed = time.monotonic() - progress.started
                progress.events_per_second = progress.applied / elapsed if elapsed > 0 else 0.0
                on_progress(progress)
            progress.worker_peak_rss_bytes[:] = [job.result() for job in jobs]
    finally:
        await own.close()


def _catch_up_process(
    settings: dict[str, Any],
    psettings: dict[str, Any],
    schema: str,
    partitions: list[int],
    topic: str,
    targets: dict[int, int],
) -> int:
    """In a worker process: catch ``partitions`` up to their targets; returns peak RSS."""

    async def run() -> None:
        s, ps = Settings(**settings), ProjectorSettings(**psettings)
        conn: asyncpg.Connection = await asyncpg.connect(s.database_url)
        consumer = _consumer(s, ps)
        try:
            await consumer.start()
            tps = [TopicPartition(topic, p) for p in partitions]
            consumer.assign(tps)
            await _catch_up(
                conn, consumer, schema, tps, targets, ps, office_authority(s),
                RebuildProgress(), lambda _: None,
            )  # fmt: skip
        finally:
            await consumer.stop()
            await conn.close()

    asyncio.run(run())
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _consumer(settings: Settings, psettings: ProjectorSettings) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        **client_kwargs(settings),
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=psettings.max_records,
        # A batch is max_records (5,000 by default: about 1.5 MB); bigger fetch buffers
        # only hold more of the log in memory, read ahead.
        fetch_max_bytes=16 * 1024 * 1024,
        max_partition_fetch_bytes=4 * 1024 * 1024,
        client_id="projector-rebuild",
    )


async def _try_switch(
    conn: asyncpg.Connection,
    version: int,
    schema: str,
    live_schema: str | None,
    topic: str,
    progress: RebuildProgress,
    started: float,
    accept_differences: bool,
) -> RebuildReport | None:
    async with conn.transaction():
        await take_switch_lock(conn)
        current = await active_schema(conn)
        live = await _positions(conn, current, topic) if current else {}
        mine = await _positions(conn, schema, topic)
        if {p: o for p, o in live.items() if o} != {p: o for p, o in mine.items() if o}:
            return None  # the live projector moved on: catch up to its new positions
        comparison = await compare_versions(conn, current, schema) if current else []
        switch = accept_differences or all(c.identical for c in comparison)
        if switch:
            if current:
                # Operators' decisions on dead letters are not in the log: carry them over.
                await carry_decisions_over(conn, current, schema)
            await activate(conn, version, schema)
    report = RebuildReport(
        version=version,
        previous_schema=live_schema,
        events=progress.applied,
        seconds=time.monotonic() - started,
        comparison=comparison,
        switched=switch,
    )
    if switch:
        log.info("rebuild switched", version=version, identical=report.identical,
                 events=report.events, seconds=round(report.seconds, 1))  # fmt: skip
    else:
        log.error("rebuild differs from the live version: not switched", version=version,
                  differences=[c.table for c in comparison if not c.identical])  # fmt: skip
    return report
