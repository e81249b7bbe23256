"""The whole benchmark run: data sets, every measurement, medians, ratios, targets."""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import time
import traceback
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import asyncpg

from bench import live, projection, readers
from bench.dataset import COUNCILS, Dataset, ensure_dataset
from bench.infra import REPO, Skip, check_servers, database_slice, jsonable, median
from bench.report import write_markdown
from contracts.topics import FACTS
from services.platform.settings import Settings
from services.projector.config import ProjectorSettings

ALL_STEPS = {"readers", "naive", "catchup", "rebuild", "memory", "latency", "letters"}


@dataclasses.dataclass
class Config:
    sizes: list[int] = dataclasses.field(default_factory=lambda: [100_000, 1_000_000, 5_000_000])
    throughput_size: int = 1_000_000
    memory_sizes: list[int] = dataclasses.field(default_factory=lambda: [1_000_000, 5_000_000])
    reps: int = 3
    naive_window: float = 20.0
    latency_rate: int = 2000
    latency_seconds: float = 30.0
    councils: int = COUNCILS
    max_records: int = ProjectorSettings().max_records
    render_workers: int = 2
    rebuild_workers: int = 2
    seed: int = 1
    steps: set[str] = dataclasses.field(default_factory=lambda: set(ALL_STEPS))
    fresh: bool = False
    write: bool = True
    quick: bool = False
    out_json: str = "docs/benchmarks.json"
    out_md: str = "docs/benchmarks.md"
    argv: list[str] = dataclasses.field(default_factory=list)

    @classmethod
    def small(cls) -> Config:
        return cls(
            sizes=[20_000],
            throughput_size=20_000,
            memory_sizes=[20_000],
            reps=1,
            naive_window=5.0,
            latency_rate=1000,
            latency_seconds=8.0,
            councils=60,
            quick=True,
            out_json=".local/bench/quick.json",
            out_md=".local/bench/quick.md",
        )


def say(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


class Results:
    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}

    async def measure(
        self, key: str, label: str, fn: Callable[[], Awaitable[dict[str, Any]]]
    ) -> dict[str, Any] | None:
        row = self.rows.setdefault(key, {"label": label, "runs": []})
        if "skipped" in row:
            return None
        say(f"{label} ...")
        try:
            out = await fn()
        except Skip as e:
            row["skipped"] = str(e)
            say(f"{label}: SKIPPED: {e}")
            return None
        except Exception as e:
            row.setdefault("errors", []).append(f"{type(e).__name__}: {e}"[:2000])
            say(f"{label}: FAILED: {type(e).__name__}: {e}")
            traceback.print_exc()
            return None
        out.setdefault("load_average", os.getloadavg())
        row["runs"].append(out)
        eps = out.get("events_per_second")
        say(
            f"{label}: "
            + (f"{eps:,.0f} events/s" if eps is not None else json.dumps(jsonable(out)))
        )
        return out

    def median(self, key: str, field: str = "events_per_second") -> float | None:
        runs = self.rows.get(key, {}).get("runs", [])
        values = [r[field] for r in runs if r.get(field) is not None]
        return median(values) if values else None


async def machine(settings: Settings, sample: Dataset | None) -> dict[str, Any]:
    conn = await asyncpg.connect(settings.database_url)
    try:
        pg = await conn.fetchval("SHOW server_version")
    finally:
        await conn.close()
    cpu = ""
    try:
        for line in _read("/proc/cpuinfo").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(_read("/proc/meminfo").split()[1])
        mem = f"{kb / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    packages: dict[str, str | None] = {}
    for name in ("aiokafka", "asyncpg", "pydantic", "pydantic-core", "faststream", "weasyprint"):
        try:
            packages[name] = version(name)
        except Exception:
            packages[name] = None
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "memory": mem,
        "os": platform.platform(),
        "python": platform.python_version(),
        "kafka": readers.kafka_version(),
        "postgresql": pg,
        "packages": packages,
        "event_bytes_mean": round(sample.mean_event_bytes, 1) if sample else None,
    }


def _read(path: str) -> str:
    return Path(path).read_text()


async def run(cfg: Config) -> int:
    t_start = time.monotonic()
    settings = Settings()
    try:
        await check_servers(settings)
    except Skip as e:
        say(f"SKIPPED: every benchmark needs the servers: {e}")
        return 0
    res = Results()
    sizes = sorted(set(cfg.sizes) | {cfg.throughput_size} | set(cfg.memory_sizes))
    datasets: dict[int, Dataset] = {}
    for size in sizes:
        say(f"log of {size:,} events ...")
        d = await ensure_dataset(
            settings, size, seed=cfg.seed, councils=cfg.councils, fresh=cfg.fresh
        )
        datasets[size] = d
        say(
            f"log of {size:,} events: {d.records:,} records, {d.mean_event_bytes:.0f} B/event"
            + (
                f", published in {d.seconds_to_publish:.0f}s"
                if d.seconds_to_publish
                else " (reused)"
            )
        )
    info = await machine(settings, datasets[cfg.throughput_size])
    tp = datasets[cfg.throughput_size]
    tp_settings = settings.model_copy(update={"topic_prefix": tp.prefix})
    topic = tp_settings.topic(FACTS)
    timeout = max(900.0, tp.records / 1000)
    steps = cfg.steps

    for rep in range(cfg.reps):
        say(f"--- repetition {rep + 1} of {cfg.reps} on the {tp.records:,}-record log")
        if "readers" in steps:
            await res.measure(
                "java",
                "1. Kafka Java consumer (ConsumerPerformance)",
                lambda: _thread(readers.java_consumer, settings, topic, tp.records),
            )
            await res.measure(
                "aiokafka_fetch",
                "2a. aiokafka loop, fetch only",
                lambda: readers.aiokafka_loop(settings, topic, tp.records, decode_records=False),
            )
            await res.measure(
                "aiokafka_decode",
                "2. aiokafka loop, fetch + decode",
                lambda: readers.aiokafka_loop(settings, topic, tp.records, decode_records=True),
            )
        if "naive" in steps:

            async def naive_run() -> dict[str, Any]:
                async with database_slice(settings, tp.prefix) as s:
                    return await projection.naive(s, window=cfg.naive_window, limit_s=300)

            await res.measure("naive", "3. naive projector (1 event per transaction)", naive_run)
        if steps & {"catchup", "rebuild"}:
            await _catchup_and_rebuild(res, cfg, settings, tp, timeout, steps, tag="")

    if "memory" in steps:
        for size in sorted(set(cfg.memory_sizes) | set(cfg.sizes)):
            if size == cfg.throughput_size and steps & {"catchup", "rebuild"}:
                continue  # the repetitions above measured it
            d = datasets[size]
            await _catchup_and_rebuild(
                res,
                cfg,
                settings,
                d,
                max(900.0, d.records / 1000),
                {"catchup", "rebuild"},
                tag=f"@{size}",
            )

    projector = None
    async with database_slice(settings, f"bench.live.{int(time.time())}.") as s:
        try:
            if "latency" in steps or "letters" in steps:
                projector, base = await live.start_live(
                    s, councils=cfg.councils, max_records=cfg.max_records
                )
            if "latency" in steps:
                for rep in range(cfg.reps):

                    async def lat(rep: int = rep, base: int = base) -> dict[str, Any]:
                        return await live.latency(
                            s,
                            projector,
                            base,
                            councils=cfg.councils,
                            rate=cfg.latency_rate,
                            seconds=cfg.latency_seconds,
                            rep=rep,
                        )

                    out = await res.measure(
                        "latency", f"6. end-to-end latency at {cfg.latency_rate:,} events/s", lat
                    )
                    base += out["events"] if out else 0
            if "letters" in steps and projector is not None:
                await res.measure(
                    "letters",
                    "8. letters: render + dispatch a year",
                    lambda: live.letters(s, render_workers=cfg.render_workers, limit_s=600),
                )
        finally:
            if projector is not None:
                projector.stop()
            await _delete_live_topics(s.settings)

    wall = time.monotonic() - t_start
    report = summarise(cfg, res, info, datasets, wall)
    print(json.dumps(jsonable(report["summary"]), indent=2))
    if cfg.write:
        out_json = REPO / cfg.out_json
        out_json.parent.mkdir(parents=True, exist_ok=True)
        out_json.write_text(json.dumps(jsonable(report), indent=2) + "\n")
        write_markdown(REPO / cfg.out_md, report)
        say(f"wrote {cfg.out_json} and {cfg.out_md}")
    say(f"done in {wall / 60:.1f} min")
    return 0


async def _thread(fn: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    import asyncio

    return await asyncio.to_thread(fn, *args)


async def _catchup_and_rebuild(
    res: Results,
    cfg: Config,
    settings: Settings,
    d: Dataset,
    limit_s: float,
    steps: set[str],
    tag: str,
) -> None:
    async with database_slice(settings, d.prefix) as s:
        out = await res.measure(
            f"catchup{tag}",
            f"4. projector catch-up ({d.records:,} records)",
            lambda: projection.catch_up(s, max_records=cfg.max_records, limit_s=limit_s),
        )
        if out is not None and "rebuild" in steps:
            await res.measure(
                f"rebuild{tag}",
                f"5. rebuild from the start ({d.records:,} records)",
                lambda: projection.rebuild(
                    s, max_records=cfg.max_records, limit_s=limit_s, workers=cfg.rebuild_workers
                ),
            )


async def _delete_live_topics(settings: Settings) -> None:
    from aiokafka.admin import AIOKafkaAdminClient

    from contracts.topics import TOPICS
    from services.platform.kafka.security import client_kwargs

    admin = AIOKafkaAdminClient(**client_kwargs(settings))
    try:
        await admin.start()
        existing = set(await admin.list_topics())
        names = [settings.topic(t) for t in TOPICS if settings.topic(t) in existing]
        if names:
            await admin.delete_topics(names)
    except Exception as e:
        say(f"could not delete the live topics ({e})")
    finally:
        await admin.close()


def summarise(
    cfg: Config, res: Results, info: dict[str, Any], datasets: dict[int, Dataset], wall: float
) -> dict[str, Any]:
    m = res.median
    java, aio, aio_fetch = m("java"), m("aiokafka_decode"), m("aiokafka_fetch")
    naive, catchup, rebuild = m("naive"), m("catchup"), m("rebuild")

    def ratio(a: float | None, b: float | None) -> float | None:
        return a / b if a is not None and b else None

    ratios = {
        "catchup_vs_java": ratio(catchup, java),
        "catchup_vs_aiokafka": ratio(catchup, aio),
        "rebuild_vs_java": ratio(rebuild, java),
        "rebuild_vs_aiokafka": ratio(rebuild, aio),
        "catchup_vs_naive": ratio(catchup, naive),
        "aiokafka_vs_java": ratio(aio, java),
        "aiokafka_fetch_vs_java": ratio(aio_fetch, java),
    }
    memory = _memory(cfg, res)
    lat_runs = res.rows.get("latency", {}).get("runs", [])
    lat = _median_run(lat_runs) if lat_runs else None
    let_runs = res.rows.get("letters", {}).get("runs", [])
    let = let_runs[-1] if let_runs else None
    exactly_once = [
        r.get("exactly_once_ok")
        for k, row in res.rows.items()
        if k.startswith("catchup")
        for r in row["runs"]
    ]
    targets = [
        _target(
            "Rebuild >= 100,000 events/s",
            rebuild,
            lambda v: v >= 100_000,
            f"{rebuild:,.0f} events/s" if rebuild else None,
        ),
        _target(
            "Rebuild >= 1/4 of the Java consumer",
            ratios["rebuild_vs_java"],
            lambda v: v >= 0.25,
            f"{ratios['rebuild_vs_java']:.2f} x Java" if ratios["rebuild_vs_java"] else None,
        ),
        _target(
            "Catch-up >= 20 x naive, exactly once",
            ratios["catchup_vs_naive"],
            lambda v: v >= 20 and bool(exactly_once) and all(exactly_once),
            (
                f"{ratios['catchup_vs_naive']:.1f} x naive, exactly-once checks "
                f"{'passed' if exactly_once and all(exactly_once) else 'FAILED'}"
            )
            if ratios["catchup_vs_naive"]
            else None,
        ),
        _target(
            f"Latency p99 < 100 ms at {cfg.latency_rate:,} events/s, lag bounded",
            lat["p99_ms"] if lat else None,
            lambda v: (
                v < 100
                and bool(
                    lat and lat["lag_bounded"] and lat["achieved_rate"] >= 0.95 * cfg.latency_rate
                )
            ),
            (
                f"p99 {lat['p99_ms']:.0f} ms at {lat['achieved_rate']:,.0f} events/s, lag "
                f"{'bounded' if lat['lag_bounded'] else 'NOT bounded'}"
            )
            if lat
            else None,
        ),
        _target(
            "Memory flat and < 300 MB (projector and rebuild)",
            memory.get("worst_peak_mb"),
            lambda v: v < 300 and bool(memory.get("flat")),
            (
                f"worst peak {memory['worst_peak_mb']:.0f} MB; 5M/1M growth "
                f"{memory.get('growth_text', 'n/a')}"
            )
            if memory.get("worst_peak_mb")
            else None,
        ),
        _target(
            f"Letters: a year ({let['letters'] if let else '~340'} councils) in < 15 s",
            let["close_to_sent_seconds"] if let else None,
            lambda v: v < 15,
            (
                f"{let['close_to_sent_seconds']:.1f} s from the close to the last letter sent "
                f"({let['queued_to_sent_seconds']:.1f} s render + dispatch)"
            )
            if let
            else None,
        ),
    ]
    summary = {
        "medians_events_per_second": {
            "java_consumer": java,
            "aiokafka_fetch": aio_fetch,
            "aiokafka_fetch_decode": aio,
            "naive_projector": naive,
            "projector_catch_up": catchup,
            "rebuild": rebuild,
        },
        "ratios": ratios,
        "latency": lat,
        "memory": memory,
        "letters": let,
        "targets": targets,
    }
    return {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(cfg.argv) or "python -m bench",
        "wall_minutes": wall / 60,
        "quick": cfg.quick,
        "machine": info,
        "config": {
            "sizes": cfg.sizes,
            "throughput_size": cfg.throughput_size,
            "memory_sizes": cfg.memory_sizes,
            "reps": cfg.reps,
            "naive_window_s": cfg.naive_window,
            "latency_rate": cfg.latency_rate,
            "latency_seconds": cfg.latency_seconds,
            "councils": cfg.councils,
            "max_records": cfg.max_records,
            "render_workers": cfg.render_workers,
            "rebuild_workers": cfg.rebuild_workers,
            "seed": cfg.seed,
        },
        "datasets": {
            str(k): {
                "prefix": d.prefix,
                "records": d.records,
                "mean_event_bytes": round(d.mean_event_bytes, 1),
            }
            for k, d in datasets.items()
        },
        "summary": summary,
        "rows": res.rows,
    }


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Numbers: the median over the runs; flags: true only if true in every run."""
    out: dict[str, Any] = {"runs": len(runs)}
    for key, value in runs[0].items():
        if isinstance(value, bool):
            out[key] = all(r.get(key) for r in runs)
        elif isinstance(value, int | float):
            out[key] = median([r[key] for r in runs if isinstance(r.get(key), int | float)])
        else:
            out[key] = value
    out["p99_ms_runs"] = [r["p99_ms"] for r in runs]
    out["kafka_p99_ms_runs"] = [r.get("kafka_p99_ms") for r in runs]
    out["load_average_runs"] = [r.get("load_average", [None])[0] for r in runs]
    out["events"] = sum(r["events"] for r in runs)
    return out


def _memory(cfg: Config, res: Results) -> dict[str, Any]:
    out: dict[str, Any] = {"peaks_mb": {}}
    for kind in ("catchup", "rebuild"):
        for size in sorted(set(cfg.memory_sizes) | set(cfg.sizes)):
            key = f"{kind}@{size}"
            if key not in res.rows and size == cfg.throughput_size:
                key = kind
            runs = res.rows.get(key, {}).get("runs", [])
            peaks = [r["peak_rss_bytes"] for r in runs if r.get("peak_rss_bytes")]
            if peaks:
                out["peaks_mb"][f"{kind}@{size}"] = max(peaks) / 1024 / 1024
    peaks = out["peaks_mb"]
    if peaks:
        out["worst_peak_mb"] = max(peaks.values())
    ms = sorted(cfg.memory_sizes)
    if len(ms) >= 2:
        growths = []
        for kind in ("catchup", "rebuild"):
            lo, hi = peaks.get(f"{kind}@{ms[0]}"), peaks.get(f"{kind}@{ms[-1]}")
            if lo and hi:
                growths.append((kind, hi / lo))
        if growths:
            out["growth"] = dict(growths)
            out["flat"] = all(g <= 1.25 for _, g in growths)
            out["growth_text"] = ", ".join(f"{k} x{g:.2f}" for k, g in growths)
    else:
        out["flat"] = None
    return out


def _target(
    name: str, value: float | None, ok: Callable[[float], bool], text: str | None
) -> dict[str, Any]:
    if value is None:
        return {"target": name, "status": "not measured", "measured": None}
    return {"target": name, "status": "met" if ok(value) else "missed", "measured": text}
