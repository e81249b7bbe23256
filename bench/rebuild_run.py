"""``python -m bench.rebuild_run``: one real rebuild (services/projector/rebuild.py) in a
process of its own, printing a JSON line with its timings and its own peak memory."""

from __future__ import annotations

import asyncio
import json
import resource
import time

from services.platform.settings import get_settings
from services.projector.config import get_projector_settings
from services.projector.rebuild import RebuildProgress, rebuild


async def main() -> None:
    started = time.monotonic()
    marks: dict[str, float] = {}

    seen: list[RebuildProgress] = []

    def on_progress(p: RebuildProgress) -> None:
        if not seen:
            seen.append(p)
        if p.applied and "first" not in marks:
            marks["first"] = time.monotonic()
        if p.applied and p.remaining == 0 and "caught_up" not in marks:
            marks["caught_up"] = time.monotonic()

    report = await rebuild(get_settings(), get_projector_settings(), on_progress=on_progress)
    assert report is not None
    ended = time.monotonic()
    workers = seen[0].worker_peak_rss_bytes if seen else []
    caught_up = marks.get("caught_up", ended)
    print(
        json.dumps(
            {
                "events": report.events,
                "catch_up_seconds": caught_up - started,
                "compare_and_switch_seconds": ended - caught_up,
                "total_seconds": ended - started,
                "identical": report.identical,
                "differences": [c.table for c in report.comparison if not c.identical],
                # The rebuild's memory: this process plus its worker processes, if any.
                "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
                + sum(workers),
                "workers": max(1, len(workers)),
                "worker_peak_rss_bytes": workers,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    asyncio.run(main())
