"""The one retry helper: what it retries, when it gives up, and its schedule."""

from __future__ import annotations

import pytest

from services.platform.retry import Backoff, backoff_delay, retry


class Flaky:
    def __init__(self, failures: int, error: Exception) -> None:
        self.failures, self.error, self.calls = failures, error, 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return "done"


async def no_sleep(_: float) -> None:
    return None


async def test_an_operation_that_fails_twice_is_retried_until_it_succeeds() -> None:
    op = Flaky(2, OSError("refused"))
    assert await retry(op, what="t", base_delay=0.01, max_delay=0.1, sleep=no_sleep) == "done"
    assert op.calls == 3


async def test_an_error_it_must_not_retry_propagates_at_once() -> None:
    op = Flaky(1, ValueError("bad"))
    with pytest.raises(ValueError):
        await retry(op, what="t", base_delay=0.01, max_delay=0.1, sleep=no_sleep,
                    retry_if=lambda e: isinstance(e, OSError))  # fmt: skip
    assert op.calls == 1


async def test_the_last_attempt_propagates_its_error() -> None:
    op = Flaky(5, OSError("refused"))
    with pytest.raises(OSError):
        await retry(op, what="t", base_delay=0.01, max_delay=0.1, attempts=3, sleep=no_sleep)
    assert op.calls == 3


async def test_a_stopping_service_does_not_retry() -> None:
    op = Flaky(5, OSError("refused"))
    with pytest.raises(OSError):
        await retry(op, what="t", base_delay=0.01, max_delay=0.1, stopping=lambda: True,
                    sleep=no_sleep)  # fmt: skip
    assert op.calls == 1


def test_pauses_grow_up_to_the_cap_and_start_again_after_a_reset() -> None:
    schedule = Backoff(base_delay=1.0, max_delay=8.0)
    pauses = [schedule.next() for _ in range(6)]
    assert all(0.5 * min(8.0, 2.0**i) <= p <= min(8.0, 2.0**i) for i, p in enumerate(pauses))
    schedule.reset()
    assert schedule.next() <= 1.0
    assert 2.0 <= backoff_delay(3, 1.0, 8.0) <= 4.0
