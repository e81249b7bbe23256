"""The repeat filter that keeps a broker outage from flooding the services' logs."""

from __future__ import annotations

import logging

from services.platform.log_throttle import RepeatFilter


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def record(name: str, msg: str, *args: object, level: int = logging.ERROR) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, msg, args or None, None)


def test_the_same_library_error_is_shown_once_per_window_then_with_a_count() -> None:
    clock = Clock()
    f = RepeatFilter(("aiokafka",), window_s=30, clock=clock)
    shown = []
    for second in range(65):
        clock.now = float(second)
        r = record("aiokafka", "Unable connect to node with id %s: %s", 1, f"refused {second}")
        if f.filter(r):
            shown.append(r.getMessage())
    assert len(shown) == 3  # at 0 s, 30 s and 60 s
    assert shown[0] == "Unable connect to node with id 1: refused 0"
    assert shown[1].endswith("(and 29 more like it in the last 30 s, not shown)")


def test_different_errors_and_other_loggers_and_lower_levels_are_not_held_back() -> None:
    f = RepeatFilter(("aiokafka",), window_s=30, clock=Clock())
    assert f.filter(record("aiokafka", "Unable to update metadata"))
    assert f.filter(record("aiokafka.consumer.fetcher", "Failed fetch messages"))
    assert not f.filter(record("aiokafka", "Unable to update metadata"))
    for _ in range(3):
        assert f.filter(record("services.projector.app", "batch failed"))
        assert f.filter(record("aiokafka", "rebalance", level=logging.INFO))
