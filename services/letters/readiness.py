"""The letter service's readiness checks, run by services/platform/health.py:

- ``postgresql``: the database answers;
- ``kafka``: the broker answers this service's credentials with the year-end topic's end
  offsets and the letter service group's committed offsets (the closes not yet turned into
  letters);
- ``progress``: closes wait, or letters are due (pending, or rendered and due to be sent),
  and nothing has been done (a close handled, a letter rendered, sent, refused or settled)
  for ``AR_LETTERS_HEALTH_MAX_LAG_SECONDS``. Held, failed and uncertain letters wait for an
  operator, not for this service: they never fail readiness.

The same round refreshes the ``letters_by_state`` gauges.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from services.domain.letter_lifecycle import LetterState
from services.letters import metrics
from services.platform.health import Check, Clock, NotReady, Stall

MAX_LAG_SETTING = "AR_LETTERS_HEALTH_MAX_LAG_SECONDS"

Ping = Callable[[], Awaitable[None]]
Offsets = Callable[[], Awaitable[dict[int, int]]]
Counts = Callable[[], Awaitable[tuple[dict[LetterState, int], int]]]


class LettersReadiness:
    def __init__(
        self,
        *,
        ping_database: Ping,
        end_offsets: Offsets,
        committed_offsets: Offsets,
        letter_counts: Counts,
        max_lag_s: float,
        clock: Clock = time.monotonic,
    ) -> None:
        self.ping_database = ping_database
        self.end_offsets = end_offsets
        self.committed_offsets = committed_offsets
        self.letter_counts = letter_counts
        self.stall = Stall(max_lag_s, "close(s) or letter(s)", MAX_LAG_SETTING, clock)
        self.closes_waiting: int | None = None
        self.done = metrics.Work.done

    def checks(self) -> list[tuple[str, Check]]:
        return [("postgresql", self.postgresql), ("kafka", self.kafka), ("progress", self.progress)]

    async def postgresql(self) -> str:
        await self.ping_database()
        return "answers"

    async def kafka(self) -> str:
        self.closes_waiting = None
        ends = await self.end_offsets()
        committed = await self.committed_offsets()
        self.closes_waiting = sum(max(0, end - committed.get(p, 0)) for p, end in ends.items())
        return f"answers: {self.closes_waiting} year-end close(s) not handled yet"

    async def progress(self) -> str:
        counts, due = await self.letter_counts()
        metrics.by_state(counts)
        if self.closes_waiting is None:
            raise NotReady("closes waiting unknown: Kafka did not answer")
        if metrics.Work.done != self.done:
            self.done = metrics.Work.done
            self.stall.progressed()
        return self.stall.check(self.closes_waiting + due)
