"""The projector's readiness checks, run by services/platform/health.py:

- ``postgresql``: the read-model database answers;
- ``kafka``: the broker answers this service's credentials with the facts topic's end offsets;
- ``progress``: events wait (end offsets beyond the stored positions) and no stored position
  has moved for ``AR_PROJECTOR_HEALTH_MAX_LAG_SECONDS``; or batches have been failing (and
  retried) for that long. The stored positions are the projection's, whichever instance
  applies them, so a stalled projection shows on every instance.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from prometheus_client import Gauge

from services.platform.health import Check, Clock, NotReady, Stall
from services.projector.metrics import FailureStreak

LAG = Gauge(
    "projector_lag_events", "End offset minus stored position, per partition", ["partition"]
)
MAX_LAG_SETTING = "AR_PROJECTOR_HEALTH_MAX_LAG_SECONDS"

Ping = Callable[[], Awaitable[None]]
Offsets = Callable[[], Awaitable[dict[int, int]]]


class ProjectorReadiness:
    def __init__(
        self,
        *,
        ping_database: Ping,
        end_offsets: Offsets,
        stored_positions: Offsets,
        max_lag_s: float,
        clock: Clock = time.monotonic,
    ) -> None:
        self.ping_database = ping_database
        self.end_offsets = end_offsets
        self.stored_positions = stored_positions
        self.max_lag_s = max_lag_s
        self.clock = clock
        self.stall = Stall(max_lag_s, "event(s)", MAX_LAG_SETTING, clock)
        self.ends: dict[int, int] | None = None
        self.positions: dict[int, int] | None = None

    def checks(self) -> list[tuple[str, Check]]:
        return [("postgresql", self.postgresql), ("kafka", self.kafka), ("progress", self.progress)]

    async def postgresql(self) -> str:
        await self.ping_database()
        return "answers"

    async def kafka(self) -> str:
        self.ends = None
        self.ends = await self.end_offsets()
        return f"answers: {len(self.ends)} partitions, {sum(self.ends.values())} records"

    async def progress(self) -> str:
        failing = FailureStreak.failing_since
        if failing is not None and self.clock() - failing > self.max_lag_s:
            raise NotReady(
                f"batches have failed and been retried for {self.clock() - failing:.0f} s "
                f"(more than {MAX_LAG_SETTING}={self.max_lag_s:g}); see the log"
            )
        if self.ends is None:
            raise NotReady("lag unknown: Kafka did not answer")
        positions = await self.stored_positions()
        if self.positions is not None and positions != self.positions:
            self.stall.progressed()
        self.positions = positions
        lag = {p: max(0, end - positions.get(p, 0)) for p, end in self.ends.items()}
        for partition, behind in lag.items():
            LAG.labels(str(partition)).set(behind)
        return self.stall.check(sum(lag.values()))
