"""What a simulated year looks like: the national figures of docs/domain.md §13.

The national uphold rate (of detailed investigations) rises from 61% in 2019-20 to 80% in
2023-24; roughly half of all decisions are detailed investigations; 13% of upheld decisions
find the council had already remedied the complaint; 99.4% of compliance outcomes find the
recommendations implemented. Years outside the table take the nearest year's figures.
"""

from __future__ import annotations

from dataclasses import dataclass

from contracts.events import DecisionOutcome
from contracts.financial_year import FinancialYear
from contracts.groups import ComparisonGroup

UPHOLD_RATE = {2019: 0.61, 2020: 0.67, 2021: 0.66, 2022: 0.74, 2023: 0.80}
COMPLIANCE_RATE = {2019: 0.994, 2020: 0.995, 2021: 0.997}
SATISFACTORY_REMEDY_RATE = 0.13
DETAILED_SHARE = 0.5
# Of upheld decisions without a prior remedy, the share that carry recommendations whose
# compliance the Ombudsman later checks.
RECOMMENDATIONS_SHARE = 0.9
# Of implemented recommendations, the share implemented after the agreed date.
LATE_SHARE = 0.08
# The decisions that are not detailed investigations, as shares of those decisions.
OTHER_OUTCOMES: tuple[tuple[DecisionOutcome, float], ...] = (
    (DecisionOutcome.CLOSED_AFTER_INITIAL_ENQUIRIES, 0.56),
    (DecisionOutcome.REFERRED_BACK_FOR_LOCAL_RESOLUTION, 0.30),
    (DecisionOutcome.INCOMPLETE_OR_INVALID, 0.10),
    (DecisionOutcome.ADVICE_GIVEN, 0.04),
)
# How each group departs from the national rates (re-centred over the simulated councils
# so that the national figure holds): District Councils averaged 45% upheld and 20%
# satisfactory remedies in 2019-20 against 61% and 13% nationally.
GROUP_UPHOLD_OFFSET = {
    ComparisonGroup.COUNTY: 0.04,
    ComparisonGroup.DISTRICT: -0.12,
    ComparisonGroup.METROPOLITAN_BOROUGH: 0.03,
    ComparisonGroup.UNITARY: 0.02,
    ComparisonGroup.LONDON_BOROUGH: 0.03,
}
GROUP_REMEDY_OFFSET = {
    ComparisonGroup.COUNTY: -0.01,
    ComparisonGroup.DISTRICT: 0.06,
    ComparisonGroup.METROPOLITAN_BOROUGH: -0.01,
    ComparisonGroup.UNITARY: 0.0,
    ComparisonGroup.LONDON_BOROUGH: -0.01,
}
# When a council's population is unknown, a typical one for its group (complaint volume
# follows population).
TYPICAL_POPULATION = {
    ComparisonGroup.COUNTY: 750_000,
    ComparisonGroup.DISTRICT: 110_000,
    ComparisonGroup.METROPOLITAN_BOROUGH: 310_000,
    ComparisonGroup.UNITARY: 250_000,
    ComparisonGroup.LONDON_BOROUGH: 290_000,
}
# The 2019-20 review's 344 councils by group: the mix of synthetic councils.
GROUP_MIX = {
    ComparisonGroup.COUNTY: 26,
    ComparisonGroup.DISTRICT: 192,
    ComparisonGroup.METROPOLITAN_BOROUGH: 36,
    ComparisonGroup.UNITARY: 57,
    ComparisonGroup.LONDON_BOROUGH: 33,
}


def _nearest(table: dict[int, float], year: int) -> float:
    return table[min(table, key=lambda y: (abs(y - year), -y))]


@dataclass(frozen=True, slots=True)
class YearProfile:
    uphold_rate: float
    compliance_rate: float
    satisfactory_remedy_rate: float = SATISFACTORY_REMEDY_RATE
    detailed_share: float = DETAILED_SHARE
    recommendations_share: float = RECOMMENDATIONS_SHARE
    late_share: float = LATE_SHARE

    @classmethod
    def of(cls, year: FinancialYear) -> YearProfile:
        return cls(
            uphold_rate=_nearest(UPHOLD_RATE, year.start_year),
            compliance_rate=_nearest(COMPLIANCE_RATE, year.start_year),
        )

    @property
    def compliance_per_decision(self) -> float:
        """Compliance outcomes per decision: one per upheld decision with recommendations."""
        return (
            self.detailed_share
            * self.uphold_rate
            * (1 - self.satisfactory_remedy_rate)
            * self.recommendations_share
        )
