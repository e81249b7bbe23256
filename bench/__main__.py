"""``python -m bench``: every benchmark in one run; ``--quick`` for a small smoke check.

    make bench                                  # make up, then python -m bench
    .venv/bin/python -m bench --quick           # a minute or two, small sizes
    .venv/bin/python -m bench --sizes 100000,1000000 --reps 5 --only readers,catchup

Reads the servers from the AR_* environment (services/platform/settings.py), Kafka's jars
from .local/kafka/libs (or AR_BENCH_KAFKA_LIBS). Writes docs/benchmarks.json and the
results section of docs/benchmarks.md (the analysis around it is kept).
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from bench.run import Config, run

STEPS = ("readers", "naive", "catchup", "rebuild", "memory", "latency", "letters")


def parse(argv: list[str]) -> Config:
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--quick", action="store_true", help="small sizes, one repetition")
    p.add_argument(
        "--sizes",
        help="log sizes in events, comma-separated (default 100000,1000000,5000000; quick: 20000)",
    )
    p.add_argument(
        "--throughput-size",
        type=int,
        help="the size the repeated throughput runs use (default 1000000)",
    )
    p.add_argument(
        "--memory-sizes", help="sizes whose peak memory is compared (default 1000000,5000000)"
    )
    p.add_argument("--reps", type=int, help="repetitions of each throughput figure (default 3)")
    p.add_argument("--naive-window", type=float, help="seconds the naive projector runs")
    p.add_argument("--latency-rate", type=int, help="events/s published (default 2000)")
    p.add_argument("--latency-seconds", type=float, help="seconds of publishing (default 60)")
    p.add_argument("--councils", type=int, help="councils in every log (default 344)")
    p.add_argument(
        "--max-records",
        type=int,
        help="records per projector batch (AR_PROJECTOR_MAX_RECORDS; default: "
        "the projector's own default)",
    )
    p.add_argument("--render-workers", type=int, help="letter service render processes")
    p.add_argument("--rebuild-workers", type=int, help="rebuild processes (default 2)")
    p.add_argument("--only", help=f"comma-separated steps of: {', '.join(STEPS)}")
    p.add_argument("--seed", type=int, default=1, help="simulator seed of the logs")
    p.add_argument("--fresh", action="store_true", help="re-publish the logs even if present")
    p.add_argument("--json", dest="out_json", help="JSON output (default docs/benchmarks.json)")
    p.add_argument("--md", dest="out_md", help="Markdown output (default docs/benchmarks.md)")
    p.add_argument("--no-write", action="store_true", help="print only; write no files")
    a = p.parse_args(argv)
    cfg = Config.small() if a.quick else Config()
    for name in (
        "throughput_size",
        "reps",
        "naive_window",
        "latency_rate",
        "latency_seconds",
        "councils",
        "max_records",
        "render_workers",
        "rebuild_workers",
        "seed",
        "out_json",
        "out_md",
    ):
        value = getattr(a, name)
        if value is not None:
            setattr(cfg, name, value)
    if a.sizes:
        cfg.sizes = [int(x) for x in a.sizes.split(",")]
    if a.memory_sizes:
        cfg.memory_sizes = [int(x) for x in a.memory_sizes.split(",")]
    if a.sizes and not a.throughput_size and cfg.throughput_size not in cfg.sizes:
        cfg.throughput_size = cfg.sizes[min(1, len(cfg.sizes) - 1)]
    if a.sizes and not a.memory_sizes:
        cfg.memory_sizes = [s for s in cfg.memory_sizes if s in cfg.sizes]
    if a.only:
        steps = {s.strip() for s in a.only.split(",")}
        unknown = steps - set(STEPS)
        if unknown:
            p.error(f"unknown step(s) {sorted(unknown)}; steps: {', '.join(STEPS)}")
        cfg.steps = steps
    cfg.fresh = a.fresh
    cfg.write = not a.no_write
    cfg.argv = ["python -m bench", *argv]
    return cfg


def main(argv: list[str] | None = None) -> int:
    cfg = parse(sys.argv[1:] if argv is None else argv)
    return asyncio.run(run(cfg))


if __name__ == "__main__":
    sys.exit(main())
