"""An independent, deliberately plain computation of the figures a stream of events
should produce: what tests compare the projector with.

It shares no code with the projector's fold (services.domain.fold): it replays the
events into the final state of every case, then counts that state. The rules, from
docs/domain.md §2 to §4:

- a case counts once, with its latest decision, in the financial year of that decision's
  date; a withdrawn case does not count;
- a compliance outcome counts in the financial year of the date it was recorded;
- events the projector refuses in context count for nothing: facts about a council never
  registered, a second DecisionRecorded for a standing case, a correction or withdrawal
  of a case without a standing decision, or of another council's case;
- items that are not valid events (the dicts ``simulate_year`` yields for invalid ones)
  count for nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from contracts.codec import RejectedMessage, decode_object
from contracts.envelope import Envelope
from contracts.events import (
    ComplianceOutcomeRecorded,
    CouncilRegistered,
    DecisionCorrected,
    DecisionRecorded,
    DecisionWithdrawn,
)
from contracts.financial_year import FinancialYear

CouncilYear = tuple[str, FinancialYear]


@dataclass(slots=True)
class OracleCounts:
    """The same field names as the projector's counts (services.domain.statistics)."""

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

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(slots=True)
class _Case:
    council: str
    decision: DecisionRecorded | DecisionCorrected
    withdrawn: bool = False


def oracle(
    events: Iterable[Envelope[Any] | dict[str, Any]],
    *,
    registered: Iterable[str] = (),
) -> dict[CouncilYear, OracleCounts]:
    """Counts per (council code, financial year), for council-years with any count.

    ``registered``: councils registered before this stream began (registrations in the
    stream are also taken into account). A council-year missing from the result has all
    counts zero.
    """
    councils = set(registered)
    cases: dict[str, _Case] = {}
    compliance: list[tuple[str, ComplianceOutcomeRecorded]] = []

    for item in events:
        event = _valid(item)
        if event is None:
            continue
        data, council = event.data, event.council
        if isinstance(data, CouncilRegistered):
            councils.add(council or "")
            continue
        if council not in councils:
            continue
        if isinstance(data, ComplianceOutcomeRecorded):
            compliance.append((council, data))
        elif isinstance(data, DecisionRecorded | DecisionCorrected | DecisionWithdrawn):
            case = cases.get(data.case_reference)
            standing = case is not None and not case.withdrawn
            if case is not None and case.council != council:
                continue
            if isinstance(data, DecisionRecorded):
                if not standing:
                    cases[data.case_reference] = _Case(council, data)
            elif isinstance(data, DecisionCorrected):
                if standing:
                    cases[data.case_reference] = _Case(council, data)
            elif standing and case is not None:
                case.withdrawn = True

    result: dict[CouncilYear, OracleCounts] = {}
    for case in cases.values():
        if case.withdrawn:
            continue
        year = FinancialYear.of(case.decision.decision_date)
        counts = result.setdefault((case.council, year), OracleCounts())
        outcome = case.decision.outcome.value
        setattr(counts, outcome, getattr(counts, outcome) + 1)
        if case.decision.satisfactory_remedy:
            counts.satisfactory_remedies += 1
    for council, outcome_recorded in compliance:
        year = FinancialYear.of(outcome_recorded.recorded_on)
        counts = result.setdefault((council, year), OracleCounts())
        counts.compliance_outcomes += 1
        if outcome_recorded.implemented:
            counts.compliance_implemented += 1
    return result


def _valid(item: Envelope[Any] | dict[str, Any]) -> Envelope[Any] | None:
    if isinstance(item, Envelope):
        return item
    try:
        return decode_object(item)
    except RejectedMessage:
        return None
