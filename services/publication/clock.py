"""When a year may be published: 00:00 UK time on its publication date (docs/domain.md §12).

Pure. UK time is Europe/London, so the moment is 23:00 UTC the day before in summer (BST)
and 00:00 UTC in winter.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

UK = ZoneInfo("Europe/London")

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


def publishes_at(publication_date: date) -> datetime:
    """The first moment a year published on ``publication_date`` may be seen."""
    return datetime.combine(publication_date, time(0), tzinfo=UK)


def is_due(publication_date: date, now: datetime) -> bool:
    if now.tzinfo is None:
        raise ValueError("the publication clock must be timezone-aware")
    return now >= publishes_at(publication_date)
