"""Waiting and trying again, one way for every loop of the services.

``Backoff`` is the schedule (exponential, capped, with jitter so that instances that failed
together do not retry together); ``retry`` runs an operation until it succeeds, an error it
must not retry propagates, the attempts run out or the service is stopping. A loop that
never ends by itself (the letter dispatcher's) keeps a ``Backoff`` and asks it for the next
pause after each failure.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import structlog

log = structlog.get_logger(__name__)

T = TypeVar("T")


def backoff_delay(attempt: int, base_delay: float, max_delay: float) -> float:
    """The pause before retry number ``attempt`` (1-based): half the capped exponential step,
    plus a random share of the other half."""
    step = min(max_delay, base_delay * 2.0 ** (attempt - 1))
    return step / 2 + random.uniform(0, step / 2)


@dataclass(slots=True)
class Backoff:
    """A retry schedule: ``next()`` after each failure gives the pause, ``reset()`` after a
    success starts it again."""

    base_delay: float
    max_delay: float
    failures: int = 0

    def next(self) -> float:
        self.failures += 1
        return backoff_delay(self.failures, self.base_delay, self.max_delay)

    def reset(self) -> None:
        self.failures = 0


def _always(_: BaseException) -> bool:
    return True


def _never() -> bool:
    return False


async def retry(
    operation: Callable[[], Awaitable[T]],
    *,
    what: str,
    base_delay: float,
    max_delay: float,
    attempts: int | None = None,
    retry_if: Callable[[BaseException], bool] = _always,
    stopping: Callable[[], bool] = _never,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> T:
    """Await ``operation()`` until it returns. An error is retried while ``retry_if(error)``
    holds, ``attempts`` (tries in all; None: no limit) are not used up and ``stopping()`` is
    false; otherwise it propagates. Each retry is logged with ``what`` and the pause."""
    if attempts is not None and attempts < 1:
        raise ValueError("attempts must be at least 1")
    schedule = Backoff(base_delay, max_delay)
    while True:
        try:
            result = await operation()
        except Exception as exc:
            last = attempts is not None and schedule.failures + 1 >= attempts
            if not retry_if(exc) or last or stopping():
                if schedule.failures:
                    log.error("giving up", what=what, attempt=schedule.failures + 1,
                              error=f"{type(exc).__name__}: {exc}"[:300])  # fmt: skip
                raise
            delay = schedule.next()
            log.warning("failed; retrying", what=what, attempt=schedule.failures,
                        retry_in_s=round(delay, 2),
                        error=f"{type(exc).__name__}: {exc}"[:300])  # fmt: skip
            await sleep(delay)
            continue
        if schedule.failures:
            log.info("succeeded after retrying", what=what, failed_attempts=schedule.failures)
        return result
