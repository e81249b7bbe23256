"""A financial year's population estimate: its own year's, else the nearest earlier, else the
nearest later (docs/domain.md §8)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from contracts.financial_year import FinancialYear
from services.domain.population import PopulationEstimate, estimate_for

LEEDS = {2021: 798_800, 2022: 812_000, 2023: 829_000}


def test_a_year_uses_the_estimate_for_its_first_year() -> None:
    assert estimate_for(LEEDS, FinancialYear(2022)) == PopulationEstimate(2022, 812_000)
    assert estimate_for(LEEDS, FinancialYear(2023)) == PopulationEstimate(2023, 829_000)


def test_else_the_nearest_earlier_estimate() -> None:
    assert estimate_for(LEEDS, FinancialYear(2025)) == PopulationEstimate(2023, 829_000)


def test_else_the_nearest_later_estimate() -> None:
    assert estimate_for(LEEDS, FinancialYear(2019)) == PopulationEstimate(2021, 798_800)


def test_no_estimate_no_population() -> None:
    assert estimate_for({}, FinancialYear(2023)) is None


@given(
    st.dictionaries(st.integers(2000, 2040), st.integers(1, 10**7), min_size=1),
    st.integers(2000, 2040),
    st.integers(2000, 2040),
    st.integers(1, 10**7),
)
def test_a_new_estimate_changes_only_the_years_it_is_now_chosen_for(
    estimates: dict[int, int], start_year: int, new_year: int, population: int
) -> None:
    year = FinancialYear(start_year)
    before = estimate_for(estimates, year)
    after = estimate_for({**estimates, new_year: population}, year)
    assert after is not None and before is not None
    assert after == before or after.year == new_year
