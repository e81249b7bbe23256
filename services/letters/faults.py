"""Named crash points for fault-injection tests (like fail-rs / FoundationDB's buggify).

``AR_LETTERS_CRASH_AT=after_send`` makes the process die (SIGKILL-like, no cleanup) the
first time it reaches that point. Unset in production: each check is one dict lookup.
"""

from __future__ import annotations

import os

POINTS = ("during_render", "before_send", "after_send")


def crash_point(name: str) -> None:
    assert name in POINTS, name
    if os.environ.get("AR_LETTERS_CRASH_AT") == name:
        os._exit(137)
