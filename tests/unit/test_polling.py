"""The tests' one way to wait (tests/support/polling.py): what it returns, what counts as
"not yet", and what a timeout says."""

from __future__ import annotations

import threading

import pytest

from tests.support.polling import NotYet, eventually


async def test_returns_the_first_truthy_answer() -> None:
    answers = iter([None, 0, [], ["sent"]])

    async def check() -> object:
        return next(answers)

    assert await eventually(check, what="a letter sent", timeout=5, every=0) == ["sent"]


async def test_an_error_is_not_yet_and_the_timeout_names_what_and_the_last_answer() -> None:
    async def check() -> object:
        raise LookupError("relation letters.outbox does not exist")

    with pytest.raises(TimeoutError, match=r"the letters: not reached in 0 s \(last: LookupError"):
        await eventually(check, what="the letters", timeout=0.05, every=0.01)


async def test_with_no_not_yet_types_an_error_fails_at_once() -> None:
    calls = 0

    async def check() -> object:
        nonlocal calls
        calls += 1
        raise LookupError("a defect")

    with pytest.raises(LookupError, match="a defect"):
        await eventually(check, what="anything", timeout=5, not_yet=())
    assert calls == 1


async def test_a_plain_function_runs_outside_the_event_loop_thread() -> None:
    loop_thread = threading.get_ident()
    threads: list[int] = []

    def check() -> bool:
        threads.append(threading.get_ident())
        return len(threads) == 2

    assert await eventually(check, what="two calls", timeout=5, every=0) is True
    assert loop_thread not in threads


async def test_not_yet_says_what_the_check_saw_even_when_errors_fail_at_once() -> None:
    async def check() -> object:
        raise NotYet("outbox states {'held': 1}, wanted {'sent': 1}")

    with pytest.raises(TimeoutError, match=r"wanted \{'sent': 1\}.*\n--- projector.log") as e:
        await eventually(
            check,
            what="the outbox states",
            timeout=0.05,
            every=0.01,
            not_yet=(),
            explain=lambda: "--- projector.log\nlast line",
        )
    assert "the outbox states: not reached" in str(e.value)
