"""``python -m bench.as_of``: how long ``annual-review stats COUNCIL YEAR --as-of T`` and
``annual-review explain COUNCIL YEAR --as-of T`` take on the benchmark log (dataset.py: a
simulated year), end to end as an operator runs them: the command in a process of its own,
mapping T to positions, folding the log up to them into a scratch version with the replay's
code (services/projector/as_of.py), reading it and dropping it.

Two moments: after the whole log was appended (the worst case: every record of the year),
and the append time of the middle record of partition 0 (about half of the log). At each,
``stats`` (the baseline) and ``explain`` run in turn, ``--reps`` times each, interleaved so
that the machine's load falls on both alike; the medians and explain's ratio to stats are
printed as a JSON line per moment and a Markdown row for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
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


def run_as_of(env: dict[str, str], command: str, moment: datetime) -> tuple[float, dict[str, Any]]:
    """``command`` (stats or explain) of the council-year as of ``moment``: seconds, JSON."""
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "services.cli.main", command, COUNCIL, YEAR,
         "--as-of", moment.isoformat(), "--json"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    seconds = time.monotonic() - started
    if done.returncode != 0:
        raise RuntimeError(f"{command} --as-of failed: {done.stderr[-2000:]}")
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
            times: dict[str, list[float]] = {"stats": [], "explain": []}
            figures: dict[str, Any] = {}
            explained: dict[str, Any] = {}
            for _ in range(args.reps):
                for command in times:
                    seconds, out = run_as_of(env, command, moment)
                    times[command].append(seconds)
                    if command == "stats":
                        figures = out
                    else:
                        explained = out
            records = sum(int(o) for o in figures["as_of"]["positions"].values())
            assert explained["as_of"] == figures["as_of"]  # the same positions, the same fold
            stats_s, explain_s = (statistics.median(times[c]) for c in ("stats", "explain"))
            line = {
                "moment": label,
                "log_records": data.records,
                "records_folded": records,
                "stats_seconds": [round(t, 1) for t in times["stats"]],
                "explain_seconds": [round(t, 1) for t in times["explain"]],
                "stats_median": round(stats_s, 1),
                "explain_median": round(explain_s, 1),
                "explain_to_stats": round(explain_s / stats_s, 2),
                "records_per_second": round(records / stats_s),
                "workers": args.workers,
                "council": COUNCIL,
                "counts": figures["counts"],
            }
            print(json.dumps(line), flush=True)
            print(
                f"| {label} | {data.records:,} | {records:,} | {stats_s:.1f} s | "
                f"{explain_s:.1f} s | {explain_s / stats_s:.2f} | {records / stats_s:,.0f} | "
                f"{args.workers} | {args.reps} |",
                flush=True,
            )


if __name__ == "__main__":
    p = argparse.ArgumentParser(prog="python -m bench.as_of", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--events", type=int, default=1_000_000, help="casework events in the log")
    p.add_argument("--workers", type=int, default=2, help="AR_PROJECTOR_REBUILD_WORKERS")
    p.add_argument("--reps", type=int, default=1, help="runs of each command per moment")
    asyncio.run(main(p.parse_args()))
