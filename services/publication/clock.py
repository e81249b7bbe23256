"""When a year may be published: 00:00 UK time on its publication date (docs/domain.md §12).

Pure. UK time is Europe/London, so the moment is 23:00 UTC the day before in summer (BST)
and 00:00 UTC in winter. The job itself reads the time from the database
(``job.database_now``): a ``Clock`` is the seam through which tests set the job's time, never
ahead of the database's (``job.FutureClock``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

UK = ZoneInfo("Europe/London")

Clock = Callable[[], datetime]


def publishes_at(publication_date: date) -> datetime:
    """The first moment a year published on ``publication_date`` may be seen."""
    return datetime.combine(publication_date, time(0), tzinfo=UK)


def is_due(publication_date: date, now: datetime) -> bool:
    if now.tzinfo is None:
        raise ValueError("the publication clock must be timezone-aware")
    return now >= publishes_at(publication_date)
