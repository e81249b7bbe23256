"""Waiting in a test for something the servers do in their own time: one way, for every
test folder.

``eventually(check, what=..., timeout=...)`` calls ``check`` until it returns something
truthy and returns that; a check that raises (a table not created yet, a server not
listening yet) counts as "not yet", and the timeout names ``what`` and the last answer, so
a test that times out says what it was waiting for and what it saw instead.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any

Check = Callable[[], Awaitable[Any]] | Callable[[], Any]


class NotYet(Exception):
    """Raised by a check to say what it saw instead (the timeout's "last" answer)."""


async def eventually(
    check: Check,
    *,
    what: str,
    timeout: float,
    every: float = 0.25,
    not_yet: tuple[type[BaseException], ...] = (Exception,),
    explain: Callable[[], str] | None = None,
) -> Any:
    """Call ``check`` until it returns something truthy, every ``every`` seconds, for at most
    ``timeout`` seconds (TimeoutError then). A coroutine function is awaited; a plain
    function (a CLI run, a file read) runs in a thread so the servers under test keep their
    event loop. Exceptions of the ``not_yet`` types count as a falsy answer; pass ``()`` to
    have any error fail the test at once (``NotYet`` still means "not yet"). ``explain`` adds
    to the timeout's message (the services' last log lines, say)."""
    catch: tuple[type[BaseException], ...] = (NotYet, *not_yet)
    deadline = time.monotonic() + timeout
    is_async = inspect.iscoroutinefunction(check)
    last: object = None
    while True:
        try:
            value = check() if is_async else await asyncio.to_thread(check)
            if inspect.isawaitable(value):  # a coroutine function's, or a lambda's coroutine
                value = await value
            if value:
                return value
            last = value
        except catch as exc:
            last = exc
        if time.monotonic() > deadline:
            message = f"{what}: not reached in {timeout:.0f} s (last: {last!r})"
            raise TimeoutError(message + (f"\n{explain()}" if explain else ""))
        await asyncio.sleep(every)
