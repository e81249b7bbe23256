"""Rates, rounding and comparison-group averages (docs/domain.md §4 to §6)."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.financial_year import FinancialYear
from contracts.groups import ComparisonGroup
from services.domain.statistics import (
    AveragingRule,
    CouncilYear,
    CouncilYearCounts,
    group_averages,
    one_decimal,
    per_residents,
    percent,
    rate,
)

Y = FinancialYear(2019)


def member(
    code: str,
    group: ComparisonGroup = ComparisonGroup.DISTRICT,
    population: int | None = None,
    **counts: int,
) -> CouncilYear:
    return CouncilYear(code, Y, group, CouncilYearCounts(**counts), population)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (Fraction(1, 8), 13),
        (Fraction(7, 8), 88),
        (Fraction(1, 2), 50),
        (Fraction(5, 1000), 1),
        (Fraction(4999, 1000000), 0),
        (Fraction(0), 0),
        (Fraction(1), 100),
        (Fraction(2, 3), 67),
    ],
)
def test_percentages_round_half_up_not_to_even(value: Fraction, shown: int) -> None:
    assert percent(value) == shown


def test_per_hundred_thousand_prints_one_decimal_half_up_and_whole_numbers_bare() -> None:
    assert one_decimal(Fraction(10)) == "10"  # Islington 2023-24: "10 upheld decisions"
    assert one_decimal(Fraction(25, 100)) == "0.3"  # 0.25 -> 0.3, not 0.2
    assert one_decimal(per_residents(2, 200_000)) == "1"
    assert one_decimal(Fraction(1096, 100)) == "11"  # 10.96 rounds to a whole 11.0
    assert one_decimal(Fraction(34, 10)) == "3.4"
    assert per_residents(3, None) is None


def test_a_rate_with_nothing_to_divide_by_is_no_figure_at_all() -> None:
    assert rate(0, 0) is None
    assert percent(None) is None
    assert CouncilYearCounts(advice_given=3).uphold_rate is None
    assert CouncilYearCounts(upheld=0, not_upheld=2).uphold_rate == 0


def test_the_satisfactory_remedy_rate_is_of_upheld_decisions() -> None:
    counts = CouncilYearCounts(upheld=4, not_upheld=4, satisfactory_remedies=1)
    assert counts.satisfactory_remedy_rate == Fraction(1, 4)
    assert counts.detailed_investigations == 8


def test_the_mean_average_weighs_every_council_with_a_denominator_the_same() -> None:
    averages = group_averages(
        [
            member("A", upheld=1, not_upheld=0),  # 100%
            member("B", upheld=1, not_upheld=3),  # 25%
            member("C", advice_given=5),  # no detailed investigations: left out
        ]
    )
    assert averages[ComparisonGroup.DISTRICT].uphold_rate == Fraction(5, 8)


def test_the_pooled_average_divides_the_sums() -> None:
    averages = group_averages(
        [member("A", upheld=1, not_upheld=0), member("B", upheld=1, not_upheld=3)],
        AveragingRule.POOLED,
    )
    assert averages[ComparisonGroup.DISTRICT].uphold_rate == Fraction(2, 5)


def test_each_group_gets_its_own_average_and_the_years_cannot_mix() -> None:
    averages = group_averages(
        [
            member("A", upheld=1, not_upheld=1, population=50_000),
            member("B", ComparisonGroup.COUNTY, upheld=1, not_upheld=0),
        ]
    )
    assert averages[ComparisonGroup.DISTRICT].uphold_rate == Fraction(1, 2)
    assert averages[ComparisonGroup.COUNTY].uphold_rate == 1
    assert averages[ComparisonGroup.DISTRICT].upheld_per_100k == 2
    assert averages[ComparisonGroup.COUNTY].upheld_per_100k is None
    other = CouncilYear("C", FinancialYear(2020), ComparisonGroup.COUNTY, CouncilYearCounts())
    with pytest.raises(ValueError, match="mix financial years"):
        group_averages([member("A"), other])


@given(st.lists(st.tuples(st.integers(0, 500), st.integers(0, 500)), min_size=1, max_size=30))
def test_an_average_lies_between_the_lowest_and_highest_rate(pairs: list[tuple[int, int]]) -> None:
    members = [member(f"C{i}", upheld=u, not_upheld=n) for i, (u, n) in enumerate(pairs)]
    rates = [m.counts.uphold_rate for m in members if m.counts.uphold_rate is not None]
    for rule in AveragingRule:
        avg = group_averages(members, rule)[ComparisonGroup.DISTRICT].uphold_rate
        if not rates:
            assert avg is None
        else:
            assert avg is not None and min(rates) <= avg <= max(rates)
