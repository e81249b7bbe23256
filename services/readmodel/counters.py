"""The counters of a council-year: one integer column each in ``council_year_stats`` and
``year_snapshot_councils`` (tables.sql).

Their names are the fields of the domain's ``CouncilYearCounts``, declared there once; every
column list, row conversion and JSON object of counts here and in the callers is derived
from ``COUNTERS``.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any, Protocol

from contracts.events import DecisionOutcome
from services.domain.statistics import CouncilYearCounts

COUNTERS: tuple[str, ...] = tuple(f.name for f in fields(CouncilYearCounts))

# The counters of a decision's outcome (one per DecisionOutcome): their sum is the number
# of standing decisions.
OUTCOME_COUNTERS: tuple[str, ...] = tuple(o.value for o in DecisionOutcome)
assert set(OUTCOME_COUNTERS) <= set(COUNTERS), "every outcome needs its counter"


class Row(Protocol):
    """A database row (asyncpg.Record) or a JSON object: read by column name."""

    def __getitem__(self, key: str, /) -> Any: ...


def counts_of(row: Row) -> CouncilYearCounts:
    """The counts in a row (or JSON object) that has every counter."""
    return CouncilYearCounts(**{c: row[c] for c in COUNTERS})


def as_dict(counts: CouncilYearCounts | Row) -> dict[str, int]:
    """Counter name -> value, in ``COUNTERS`` order."""
    if isinstance(counts, CouncilYearCounts):
        return {c: getattr(counts, c) for c in COUNTERS}
    return {c: counts[c] for c in COUNTERS}
