"""A year is published at 00:00 UK time on its publication date, summer or winter."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from services.publication.clock import is_due, publishes_at


def test_in_summer_time_midnight_uk_is_23_00_utc_the_day_before() -> None:
    assert publishes_at(date(2020, 7, 29)).astimezone(UTC) == datetime(2020, 7, 28, 23, tzinfo=UTC)


def test_in_winter_midnight_uk_is_midnight_utc() -> None:
    assert publishes_at(date(2025, 1, 15)).astimezone(UTC) == datetime(2025, 1, 15, tzinfo=UTC)


@pytest.mark.parametrize("day", [date(2020, 7, 29), date(2025, 1, 15), date(2026, 3, 29)])
def test_not_due_one_second_before_and_due_from_the_moment(day: date) -> None:
    moment = publishes_at(day)
    assert not is_due(day, moment - timedelta(seconds=1))
    assert is_due(day, moment)
    assert is_due(day, moment + timedelta(days=400))


def test_a_clock_without_a_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        is_due(date(2020, 7, 29), datetime(2020, 7, 29))
