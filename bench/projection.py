"""The projector catching up from a backlog, the naive baseline, and the rebuild.

Each run gets a fresh database. The projector and the baseline run as real processes
(``python -m services.projector`` / ``python -m bench.naive``); their rate is measured by
polling the stored positions, which commit in the same transaction as the figures, from
the first committed batch to the end of the log. After a catch-up the figures are checked
against the simulator's oracle-independent count (every record applied or skipped once).
"""

from __future__ import annotations

import json
from typing import Any

from bench.infra import (
    Slice,
    end_offsets,
    follow_positions,
    rate,
    start_process,
)
from services.readmodel.audit import totals
from services.readmodel.versions import drop_retired


async def catch_up(s: Slice, *, max_records: int, limit_s: float) -> dict[str, Any]:
    """Start the real projector on a backlog and time it to the end of the log."""
    ends = await end_offsets(s.settings.kafka_bootstrap, s.facts)
    target = sum(ends.values())
    process = start_process(
        "projector",
        ["-m", "services.projector"],
        s.env(AR_PROJECTOR_MAX_RECORDS=str(max_records)),
    )
    try:
        progress = await follow_positions(s, process, target, limit_s=limit_s)
    finally:
        process.stop()
    checks = await check_exactly_once(s, target)
    return {
        "events_per_second": rate(progress),
        "events": target,
        "seconds": (progress.done_at or 0) - (progress.first_at or 0),
        "peak_rss_bytes": progress.peak_rss,
        "rss_samples": [(round(p, 2), r) for p, r in process.rss_samples],
        **checks,
    }


async def check_exactly_once(s: Slice, records: int) -> dict[str, Any]:
    """Every record counted once: applied event ids + dead letters = records, and the
    case and compliance counters add up to the cases and outcomes stored."""
    conn = await s.connect()
    try:
        t = await totals(conn)
    finally:
        await conn.close()
    ok = t.applied_events + t.dead_letters == records and (
        t.standing_decisions == t.decisions_counted
    )
    return {
        "exactly_once_ok": ok,
        "applied_events": t.applied_events,
        "dead_letters": t.dead_letters,
    }


async def naive(s: Slice, *, window: float, limit_s: float) -> dict[str, Any]:
    """The one-event-per-transaction projector, over ``window`` seconds of the backlog."""
    ends = await end_offsets(s.settings.kafka_bootstrap, s.facts)
    process = start_process("naive", ["-m", "bench.naive"], s.env())
    try:
        progress = await follow_positions(
            s, process, sum(ends.values()), limit_s=limit_s, stop_after=window
        )
    finally:
        process.stop()
    return {
        "events_per_second": rate(progress),
        "events": progress.total - progress.first_total,
        "seconds": (progress.done_at or 0) - (progress.first_at or 0),
    }


async def rebuild(
    s: Slice, *, max_records: int, limit_s: float, workers: int = 1
) -> dict[str, Any]:
    """The real rebuild (a new version from offset 0, compare, switch) in its own process;
    the slice must hold a caught-up live version."""
    process = start_process(
        "rebuild",
        ["-m", "bench.rebuild_run"],
        s.env(
            AR_PROJECTOR_MAX_RECORDS=str(max_records),
            AR_PROJECTOR_REBUILD_WORKERS=str(workers),
        ),
    )
    try:
        process.popen.wait(limit_s)
    finally:
        process.stop()
    lines = [ln for ln in process.log.read_text().splitlines() if ln.startswith('{"events"')]
    if process.popen.returncode != 0 or not lines:
        raise RuntimeError(f"rebuild failed ({process.popen.returncode}):\n{process.tail()}")
    out: dict[str, Any] = json.loads(lines[-1])
    out["events_per_second"] = out["events"] / out["catch_up_seconds"]
    await _drop_retired(s)
    return out


async def _drop_retired(s: Slice) -> None:
    conn = await s.connect()
    try:
        await drop_retired(conn)
    finally:
        await conn.close()
