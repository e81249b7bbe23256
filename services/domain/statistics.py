"""The three statistics, their comparison-group averages, and how they are displayed.

Pure: no I/O. Rates are exact fractions; rounding happens only for display, half up
(docs/domain.md §6), never with Python's round(), which rounds half to even.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from contracts.financial_year import FinancialYear
from contracts.groups import ComparisonGroup

PER_RESIDENTS = 100_000


class AveragingRule(enum.StrEnum):
    """How a comparison group's average is formed (docs/domain.md §5)."""

    MEAN_OF_RATES = "mean"  # default: every council with a non-zero denominator weighs the same
    POOLED = "pooled"  # sum of numerators over sum of denominators


def rate(numerator: int, denominator: int) -> Fraction | None:
    """An exact rate, or None when there is nothing to divide by."""
    if denominator < 0 or numerator < 0:
        raise ValueError(f"negative count in rate {numerator}/{denominator}")
    if denominator == 0:
        return None
    return Fraction(numerator, denominator)


def percent(value: Fraction | None) -> int | None:
    """A rate as a whole percentage, rounded half up: 1/8 -> 13, 7/8 -> 88."""
    if value is None:
        return None
    return int(_half_up(value * 100, 0))


def _half_up(value: Fraction, places: int) -> Decimal:
    """Round an exact fraction half up; done on integers, so ties are exact ties."""
    scale = 10**places
    scaled = value * scale
    whole, remainder = divmod(scaled.numerator, scaled.denominator)
    if 2 * remainder >= scaled.denominator:
        whole += 1
    return Decimal(whole).scaleb(-places)


def one_decimal(value: Fraction | None) -> str | None:
    """Per-100,000 figures: one decimal place, half up, and a whole number without the
    decimal, as the published pages print them (``10``, ``3.4``; docs/domain.md §6)."""
    if value is None:
        return None
    rounded = _half_up(value, 1)
    return f"{rounded:.0f}" if rounded == rounded.to_integral_value() else f"{rounded:.1f}"


def per_residents(upheld: int, population: int | None) -> Fraction | None:
    """Upheld decisions per 100,000 residents; None when the population is unknown."""
    if not population:
        return None
    return Fraction(upheld * PER_RESIDENTS, population)


@dataclass(frozen=True, slots=True)
class CouncilYearCounts:
    """What the projector counts for one council in one financial year."""

    upheld: int = 0
    not_upheld: int = 0
    advice_given: int = 0
    closed_after_initial_enquiries: int = 0
    incomplete_or_invalid: int = 0
    referred_back_for_local_resolution: int = 0
    satisfactory_remedies: int = 0
    compliance_outcomes: int = 0
    compliance_implemented: int = 0

    @property
    def detailed_investigations(self) -> int:
        return self.upheld + self.not_upheld

    @property
    def decisions(self) -> int:
        return (
            self.upheld
            + self.not_upheld
            + self.advice_given
            + self.closed_after_initial_enquiries
            + self.incomplete_or_invalid
            + self.referred_back_for_local_resolution
        )

    @property
    def uphold_rate(self) -> Fraction | None:
        return rate(self.upheld, self.detailed_investigations)

    @property
    def compliance_rate(self) -> Fraction | None:
        return rate(self.compliance_implemented, self.compliance_outcomes)

    @property
    def satisfactory_remedy_rate(self) -> Fraction | None:
        return rate(self.satisfactory_remedies, self.upheld)


@dataclass(frozen=True, slots=True)
class CouncilYear:
    """A council's counts in a year, with what the averages need to know about it."""

    council: str
    year: FinancialYear
    group: ComparisonGroup
    counts: CouncilYearCounts
    population: int | None = None

    @property
    def upheld_per_100k(self) -> Fraction | None:
        return per_residents(self.counts.upheld, self.population)


@dataclass(frozen=True, slots=True)
class GroupAverages:
    """One comparison group's averages in one year; None where no council had a denominator."""

    group: ComparisonGroup
    year: FinancialYear
    councils: int
    uphold_rate: Fraction | None
    compliance_rate: Fraction | None
    satisfactory_remedy_rate: Fraction | None
    upheld_per_100k: Fraction | None


def _average(pairs: Iterable[tuple[int, int]], rule: AveragingRule) -> Fraction | None:
    """Average of numerator/denominator pairs, ignoring pairs with a zero denominator."""
    counted = [(n, d) for n, d in pairs if d > 0]
    if not counted:
        return None
    if rule is AveragingRule.POOLED:
        return Fraction(sum(n for n, _ in counted), sum(d for _, d in counted))
    return sum((Fraction(n, d) for n, d in counted), Fraction(0)) / len(counted)


def group_averages(
    members: Iterable[CouncilYear], rule: AveragingRule = AveragingRule.MEAN_OF_RATES
) -> dict[ComparisonGroup, GroupAverages]:
    """The averages of every comparison group that has members in ``members``.

    All members must be of one financial year. Per 100,000 residents, the pooled rule
    divides the group's upheld decisions by its total population.
    """
    by_group: dict[ComparisonGroup, list[CouncilYear]] = {}
    years = set()
    for member in members:
        by_group.setdefault(member.group, []).append(member)
        years.add(member.year)
    if len(years) > 1:
        raise ValueError(f"group averages mix financial years: {sorted(map(str, years))}")
    result = {}
    for group, councils in by_group.items():
        c = [m.counts for m in councils]
        populated = [m for m in councils if m.population]
        result[group] = GroupAverages(
            group=group,
            year=councils[0].year,
            councils=len(councils),
            uphold_rate=_average(((x.upheld, x.detailed_investigations) for x in c), rule),
            compliance_rate=_average(
                ((x.compliance_implemented, x.compliance_outcomes) for x in c), rule
            ),
            satisfactory_remedy_rate=_average(
                ((x.satisfactory_remedies, x.upheld) for x in c), rule
            ),
            upheld_per_100k=_average(
                ((m.counts.upheld * PER_RESIDENTS, m.population or 0) for m in populated), rule
            ),
        )
    return result
