"""Which population estimate a financial year's per-100,000 figure uses (docs/domain.md §8).

Pure: no I/O. A council's registry keeps every estimate it was given, by the year the estimate
is for; a financial year uses the estimate for its own first year (mid-2023 for 2023-24), else
the nearest earlier one, else the nearest later one. So a new estimate changes only the years
it is nearest to, the same way in the live figures, the snapshot and a replay.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from contracts.financial_year import FinancialYear


@dataclass(frozen=True, slots=True, order=True)
class PopulationEstimate:
    """A population figure and the year it is an estimate for."""

    year: int
    population: int


def estimate_for(estimates: Mapping[int, int], year: FinancialYear) -> PopulationEstimate | None:
    """The estimate ``year`` uses from ``estimates`` (estimate year -> population), or None
    when the council has none."""
    if not estimates:
        return None
    first = year.start_year
    earlier = [y for y in estimates if y <= first]
    chosen = max(earlier) if earlier else min(estimates)
    return PopulationEstimate(chosen, estimates[chosen])
