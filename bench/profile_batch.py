"""``python -m bench.profile_batch``: where a batch's time goes, without Kafka in the way.

Reads N records of a bench log into memory, then applies them with ``project_batch`` in
batches to a fresh database, under cProfile (``--profile``) or just timed, and prints the
rate, the share of time in decode, in the fold and in PostgreSQL round trips.

    .venv/bin/python -m bench.profile_batch --size 1000000 --records 200000 --profile
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import time
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from bench.dataset import prefix_for
from bench.infra import database_slice
from contracts.topics import FACTS
from services.domain.statistics import AveragingRule
from services.platform.kafka.security import client_kwargs
from services.platform.migrations import apply_migrations, default_folders
from services.platform.office_signature import office_authority
from services.platform.settings import Settings
from services.projector.batch import project_batch
from services.readmodel.versions import ensure_active_version


async def read_records(settings: Settings, topic: str, n: int, batch: int) -> list[list[Any]]:
    consumer = AIOKafkaConsumer(
        **client_kwargs(settings),
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=batch,
        fetch_max_bytes=64 * 1024 * 1024,
        max_partition_fetch_bytes=16 * 1024 * 1024,
    )
    await consumer.start()
    out: list[list[Any]] = []
    try:
        parts = [TopicPartition(topic, p) for p in range(FACTS.partitions)]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        seen = 0
        while seen < n:
            fetched = await consumer.getmany(timeout_ms=1000, max_records=batch)
            records = [r for rs in fetched.values() for r in rs]
            if records:
                out.append(records)
                seen += len(records)
    finally:
        await consumer.stop()
    return out


async def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--size", type=int, default=1_000_000, help="which bench log")
    p.add_argument("--records", type=int, default=100_000)
    p.add_argument("--batch", type=int, default=5000)
    p.add_argument("--profile", action="store_true")
    p.add_argument("--top", type=int, default=35)
    a = p.parse_args()
    base = Settings()
    prefix = prefix_for(a.size, 1)
    batches = await read_records(
        base.model_copy(update={"topic_prefix": prefix}), prefix + FACTS.name, a.records, a.batch
    )
    n = sum(len(b) for b in batches)
    async with database_slice(base, prefix) as s:
        conn = await s.connect()
        await apply_migrations(conn, default_folders())
        schema = await ensure_active_version(conn)
        prof = cProfile.Profile() if a.profile else None
        started = time.perf_counter()
        if prof:
            prof.enable()
        for records in batches:
            await project_batch(
                conn,
                schema,
                records,
                rule=AveragingRule.MEAN_OF_RATES,
                dead_letter_sink=None,
                authority=office_authority(base),
            )
        if prof:
            prof.disable()
        seconds = time.perf_counter() - started
        await conn.close()
    print(f"{n:,} records in {len(batches)} batches: {n / seconds:,.0f} events/s")
    if prof:
        stats = pstats.Stats(prof)
        stats.sort_stats("cumulative").print_stats(a.top)
        stats.sort_stats("tottime").print_stats(a.top)


if __name__ == "__main__":
    asyncio.run(main())
