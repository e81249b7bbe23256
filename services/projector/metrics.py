"""Prometheus metrics and a /health endpoint for the projector."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

import asyncpg
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

from services.projector.batch import BatchResult, Record

EVENTS = Counter("projector_events_total", "Records handled, by outcome", ["outcome"])
BATCHES = Histogram(
    "projector_batch_seconds", "Time to apply one batch transaction",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)  # fmt: skip
BATCH_FAILURES = Counter("projector_batch_failures_total", "Batches rolled back and retried")
POSITION = Gauge("projector_position", "Next offset to apply, per partition", ["partition"])
LAST_EVENT = Gauge(
    "projector_last_event_timestamp_seconds", "occurred_at of the last applied event"
)
YEARS_COMPLETED = Counter("projector_years_completed_total", "Year-end snapshots completed")


def observe_batch(result: BatchResult, records: Sequence[Record], seconds: float) -> None:
    FailureStreak.succeeded()
    BATCHES.observe(seconds)
    EVENTS.labels("applied").inc(result.applied)
    EVENTS.labels("dead_lettered").inc(result.dead_lettered)
    EVENTS.labels("duplicate").inc(result.skipped_duplicate)
    EVENTS.labels("redelivered").inc(result.skipped_redelivered)
    EVENTS.labels("late").inc(result.late)
    YEARS_COMPLETED.inc(len(result.years_completed))
    for partition, offset in result.next_offsets.items():
        POSITION.labels(str(partition)).set(offset)
    if result.last_event_at:
        LAST_EVENT.set(result.last_event_at.timestamp())


class FailureStreak:
    """Since when batches have been failing: the health check's view of lag that stays high."""

    failing_since: float | None = None

    @classmethod
    def succeeded(cls) -> None:
        cls.failing_since = None

    @classmethod
    def failed(cls) -> None:
        if cls.failing_since is None:
            cls.failing_since = time.monotonic()


async def health(pool: asyncpg.Pool, max_lag_seconds: float) -> tuple[bool, str]:
    """Unhealthy when the database does not answer, or when batches have been failing (so
    events wait unapplied) for longer than ``max_lag_seconds``."""
    try:
        async with pool.acquire() as conn:
            await conn.fetchval("SELECT 1")
    except Exception as exc:
        return False, f"database unreachable: {type(exc).__name__}"
    if FailureStreak.failing_since is not None:
        stuck = time.monotonic() - FailureStreak.failing_since
        if stuck > max_lag_seconds:
            return False, f"no batch applied for {stuck:.0f} s"
    return True, "ok"


async def serve(port: int, pool: asyncpg.Pool, max_lag_seconds: float) -> asyncio.Server:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), 5)
            path = request.split(b" ")[1] if b" " in request else b"/"
            if path.startswith(b"/health"):
                ok, why = await health(pool, max_lag_seconds)
                status = "200 OK" if ok else "503 Service Unavailable"
                body, ctype = why.encode(), "text/plain"
            elif path.startswith(b"/metrics"):
                status, body, ctype = "200 OK", generate_latest(), CONTENT_TYPE_LATEST
            else:
                status, body, ctype = "404 Not Found", b"not found", "text/plain"
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
                f"Connection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        except Exception:  # noqa: S110 - a broken probe connection must not hurt the service
            pass
        finally:
            writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", port)
