"""The projector's Prometheus metrics (served on /metrics by services/platform/health.py;
its readiness checks are in readiness.py)."""

from __future__ import annotations

import time
from collections.abc import Sequence

from prometheus_client import Counter, Gauge, Histogram

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
    """Since when batches have been failing (readiness.py: not ready after the configured
    time)."""

    failing_since: float | None = None

    @classmethod
    def succeeded(cls) -> None:
        cls.failing_since = None

    @classmethod
    def failed(cls) -> None:
        if cls.failing_since is None:
            cls.failing_since = time.monotonic()
