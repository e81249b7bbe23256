"""``python -m bench.as_of``: how long ``annual-review stats COUNCIL YEAR --as-of T`` takes
on the benchmark log (dataset.py: a simulated year), end to end as an operator runs it: the
command in a process of its own, mapping T to positions, folding the log up to them into a
scratch version with the replay's code (services/projector/as_of.py), reading it and
dropping it.

Two moments: after the whole log was appended (the worst case: every record of the year),
and the append time of the middle record of partition 0 (about half of the log). Prints a
JSON line per moment, and a Markdown row for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition

from bench.dataset import YEAR, ensure_dataset
from bench.infra import REPO, database_slice, end_offsets
from contracts.topics import FACTS
from services.platform.kafka.security import client_kwargs
from services.platform.migrations import apply_migrations
from services.platform.settings import Settings, get_settings

COUNCIL = "MAN"  # the simulator's first council (services/simulator/roster.py)


async def middle_moment(settings: Settings) -> datetime:
    """The broker's append time of the middle record of partition 0."""
    topic = settings.topic(FACTS)
    ends = await end_offsets(settings.kafka_bootstrap, topic)
    consumer = AIOKafkaConsumer(**client_kwargs(settings), group_id=None)
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        consumer.seek(tp, ends[0] // 2)
        record = await consumer.getone()
        return datetime.fromtimestamp(record.timestamp / 1000, UTC)
    finally:
        await consumer.stop()


def run_stats(env: dict[str, str], moment: datetime) -> tuple[float, dict[str, Any]]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "services.cli.main", "stats", COUNCIL, YEAR,
         "--as-of", moment.isoformat(), "--json"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    seconds = time.monotonic() - started
    if done.returncode != 0:
        raise RuntimeError(f"stats --as-of failed: {done.stderr[-2000:]}")
    return seconds, json.loads(done.stdout)


async def main(args: argparse.Namespace) -> None:
    base = get_settings()
    data = await ensure_dataset(base, args.events)
    moments = [("whole log", datetime.now(UTC))]
    prefixed = base.model_copy(update={"topic_prefix": data.prefix})
    moments.append(("middle of partition 0", await middle_moment(prefixed)))
    async with database_slice(base, data.prefix) as db:
        conn = await asyncpg.connect(db.settings.database_url)
        try:
            await apply_migrations(conn)
        finally:
            await conn.close()
        env = db.env(AR_PROJECTOR_REBUILD_WORKERS=str(args.workers), AR_LOG_LEVEL="WARNING")
        for label, moment in moments:
            seconds, figures = run_stats(env, moment)
            records = sum(int(o) for o in figures["as_of"]["positions"].values())
            line = {
                "moment": label,
                "log_records": data.records,
                "records_folded": records,
                "seconds": round(seconds, 1),
                "records_per_second": round(records / seconds),
                "workers": args.workers,
                "council": COUNCIL,
                "counts": figures["counts"],
            }
            print(json.dumps(line), flush=True)
            print(
                f"| `stats {COUNCIL} {YEAR} --as-of` ({label}) | {data.records:,} | "
                f"{records:,} | {seconds:.1f} s | {records / seconds:,.0f} | {args.workers} |",
                flush=True,
            )


if __name__ == "__main__":
    p = argparse.ArgumentParser(prog="python -m bench.as_of", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--events", type=int, default=1_000_000, help="casework events in the log")
    p.add_argument("--workers", type=int, default=2, help="AR_PROJECTOR_REBUILD_WORKERS")
    asyncio.run(main(p.parse_args()))
