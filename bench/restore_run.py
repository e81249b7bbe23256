"""``python -m bench.restore_run``: how long ``annual-review restore`` takes to write an
empty database back from the benchmark log (dataset.py: a simulated year), from the empty
(migrated) database to the read models serving, against ``annual-review replay`` of the same
log measured in the same run (on the restored database: replay folds the whole log into a
new version, compares it with the live one and switches).

Both are run as an operator runs them, each in a process of its own, with the same number
of folding processes. Prints a JSON line per repetition, the medians and the ratio, and a
Markdown row for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time

import asyncpg

from bench.dataset import ensure_dataset
from bench.infra import REPO, database_slice
from services.platform.migrations import apply_migrations
from services.platform.settings import get_settings


def timed(env: dict[str, str], *command: str) -> tuple[float, dict[str, object]]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "services.cli.main", *command, "--json"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=3600,
    )  # fmt: skip
    seconds = time.monotonic() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {done.stderr[-2000:]}")
    return seconds, json.loads(done.stdout)


async def main(args: argparse.Namespace) -> None:
    base = get_settings()
    data = await ensure_dataset(base, args.events)
    restores, replays = [], []
    for rep in range(args.reps):
        async with database_slice(base, data.prefix) as db:
            conn = await asyncpg.connect(db.settings.database_url)
            try:
                await apply_migrations(conn)
            finally:
                await conn.close()
            env = db.env(AR_PROJECTOR_REBUILD_WORKERS=str(args.workers), AR_LOG_LEVEL="WARNING")
            restore_s, report = timed(env, "restore", "--workers", str(args.workers))
            replay_s, _ = timed(env, "replay")
            restores.append(restore_s)
            replays.append(replay_s)
            print(json.dumps({
                "rep": rep, "log_records": data.records, "restore_seconds": round(restore_s, 1),
                "replay_seconds": round(replay_s, 1), "events": report["events"],
                "workers": args.workers,
            }), flush=True)  # fmt: skip
    restore_m, replay_m = statistics.median(restores), statistics.median(replays)
    print(
        f"| restore from the log (`annual-review restore`, empty database to serving) | "
        f"{data.records:,} | {restore_m:.1f} s | replay {replay_m:.1f} s | "
        f"x{restore_m / replay_m:.2f} | {args.workers} | {args.reps} |",
        flush=True,
    )


if __name__ == "__main__":
    p = argparse.ArgumentParser(prog="python -m bench.restore_run", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--events", type=int, default=1_000_000, help="casework events in the log")
    p.add_argument("--workers", type=int, default=2, help="folding processes")
    p.add_argument("--reps", type=int, default=3, help="repetitions (medians)")
    asyncio.run(main(p.parse_args()))
