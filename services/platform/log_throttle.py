"""Repeated library warnings, summarised.

While the broker is away, aiokafka logs the same connection errors (every client, every
100 ms retry): a thousand lines for a ten-second outage, burying the service's own account of
what it is doing. ``throttle_repeats`` lets the first record of each kind through, drops the
same kind for ``window_s`` seconds, and says how many were dropped on the next one shown.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable

_NUMBERS = re.compile(r"\d+")


class RepeatFilter(logging.Filter):
    """At most one record per kind (logger, level, message with numbers blanked) per window,
    for WARNING and above from loggers under ``prefixes``; everything else passes."""

    def __init__(
        self,
        prefixes: tuple[str, ...] = ("aiokafka",),
        window_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.prefixes = prefixes
        self.window_s = window_s
        self.clock = clock
        self._shown: dict[tuple[str, int, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING or not record.name.startswith(self.prefixes):
            return True
        key = (record.name, record.levelno, _NUMBERS.sub("#", str(record.msg))[:200])
        now = self.clock()
        shown = self._shown.get(key)
        if shown is not None and now - shown[0] < self.window_s:
            self._shown[key] = (shown[0], shown[1] + 1)
            return False
        if len(self._shown) > 500:
            self._shown.clear()
        self._shown[key] = (now, 0)
        if shown is not None and shown[1]:
            record.msg = (
                f"{record.getMessage()} (and {shown[1]} more like it in the last "
                f"{now - shown[0]:.0f} s, not shown)"
            )
            record.args = None
        return True


def throttle_repeats(prefixes: tuple[str, ...] = ("aiokafka",), window_s: float = 30.0) -> None:
    """Install a RepeatFilter on the root logger's handlers, where every library's records
    end up (call after ``configure_logging``)."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RepeatFilter) for f in handler.filters):
            handler.addFilter(RepeatFilter(prefixes, window_s))
