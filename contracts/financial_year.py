"""The financial year: 1 April to 31 March, labelled like ``2019-20``.

Every rule about years lives here, so that the projector, the letters and the
simulator cannot disagree about which year a date belongs to.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import total_ordering
from typing import Any

from pydantic import GetCoreSchemaHandler
from pydantic_core import core_schema

_LABEL = re.compile(r"^(\d{4})-(\d{2})$", re.ASCII)

MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


def long_date(day: date) -> str:
    """``22 July 2020``: no leading zero, full month name (the letters' style)."""
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


class NotAFinancialYear(ValueError):
    """A label that is not of the form ``2019-20`` with consecutive years."""


@total_ordering
@dataclass(frozen=True, slots=True)
class FinancialYear:
    """The year that starts on 1 April of ``start_year``."""

    start_year: int

    def __post_init__(self) -> None:
        if not 1900 <= self.start_year <= 2998:
            raise NotAFinancialYear(f"financial year starting {self.start_year} is out of range")

    @classmethod
    def parse(cls, label: str) -> FinancialYear:
        """``"2019-20"`` -> FinancialYear(2019); anything else raises with the reason."""
        if not isinstance(label, str):
            raise NotAFinancialYear(f"a financial year is a label like '2019-20', not {label!r}")
        match = _LABEL.match(label.strip())
        if not match:
            raise NotAFinancialYear(
                f"{label!r} is not a financial year: expected a label like '2019-20'"
            )
        start, end = int(match.group(1)), int(match.group(2))
        if (start + 1) % 100 != end:
            raise NotAFinancialYear(
                f"{label!r} is not a financial year: the second part must be the year after "
                f"{start} ('{start}-{(start + 1) % 100:02d}')"
            )
        return cls(start)

    @classmethod
    def of(cls, day: date) -> FinancialYear:
        """The financial year a (UK local) date belongs to."""
        return cls(day.year if day.month >= 4 else day.year - 1)

    @property
    def label(self) -> str:
        return f"{self.start_year}-{(self.start_year + 1) % 100:02d}"

    @property
    def first_day(self) -> date:
        return date(self.start_year, 4, 1)

    @property
    def last_day(self) -> date:
        return date(self.start_year + 1, 3, 31)

    @property
    def letter_year(self) -> int:
        """The calendar year of the Annual Review letter for this year (2019-20 -> 2020)."""
        return self.start_year + 1

    @property
    def period_wording(self) -> str:
        """``1 April 2019 to 31 March 2020``, as the letters print the period."""
        return f"{long_date(self.first_day)} to {long_date(self.last_day)}"

    def contains(self, day: date) -> bool:
        return self.first_day <= day <= self.last_day

    def overlaps(self, start: date | None, end: date | None) -> bool:
        """Whether something that existed from ``start`` to ``end`` (open ends allowed)
        existed during any part of this year."""
        return (start is None or start <= self.last_day) and (end is None or end >= self.first_day)

    def next(self) -> FinancialYear:
        return FinancialYear(self.start_year + 1)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, FinancialYear):
            return NotImplemented
        return self.start_year < other.start_year

    def __str__(self) -> str:
        return self.label

    # Lets pydantic models declare ``year: FinancialYear``; it travels as the label.
    @classmethod
    def __get_pydantic_core_schema__(
        cls, _source: Any, _handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        def validate(value: Any) -> FinancialYear:
            if isinstance(value, FinancialYear):
                return value
            return cls.parse(value)

        return core_schema.no_info_plain_validator_function(
            validate,
            json_schema_input_schema=core_schema.str_schema(pattern=r"^\d{4}-\d{2}$"),
            serialization=core_schema.plain_serializer_function_ser_schema(
                lambda fy: fy.label, when_used="always"
            ),
        )
