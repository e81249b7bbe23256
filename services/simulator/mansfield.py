"""Mansfield District Council's real 2019-20 figures, from its Annual Review letter of
22 July 2020 (the reference letter): 2 detailed investigations, 1 upheld (no satisfactory
remedy before the complaint reached the Ombudsman) and 1 not upheld, and 1 compliance
outcome, implemented. The dates, case references, service areas and decision addresses are
made up; the figures are not.
"""

from __future__ import annotations

from datetime import date

from contracts.events import (
    ComplianceOutcomeRecorded,
    DecisionOutcome,
    DecisionRecorded,
    Payload,
    ServiceArea,
)
from contracts.financial_year import FinancialYear
from services.councils.model import CouncilRecord
from services.councils.sample import MANSFIELD_NAME
from services.simulator.service_areas import published_url_of

REAL_YEAR = FinancialYear(2019)

# Case references from the year before, which the simulator never generates for a decision.
REAL_EVENTS: tuple[Payload, ...] = (
    DecisionRecorded(
        case_reference="18 017 342",
        decision_date=date(2019, 8, 13),
        outcome=DecisionOutcome.UPHELD,
        satisfactory_remedy=False,
        service_area=ServiceArea.HOUSING,
        published_url=published_url_of("18 017 342", DecisionOutcome.UPHELD, ServiceArea.HOUSING),
    ),
    ComplianceOutcomeRecorded(
        case_reference="18 017 342", recorded_on=date(2019, 11, 26), implemented=True
    ),
    DecisionRecorded(
        case_reference="18 019 881",
        decision_date=date(2020, 2, 4),
        outcome=DecisionOutcome.NOT_UPHELD,
        service_area=ServiceArea.PLANNING_AND_DEVELOPMENT,
    ),
)


def event_date(payload: Payload) -> date:
    if isinstance(payload, DecisionRecorded):
        return payload.decision_date
    if isinstance(payload, ComplianceOutcomeRecorded):
        return payload.recorded_on
    raise TypeError(payload)


def find_mansfield(councils: list[CouncilRecord]) -> CouncilRecord | None:
    """Mansfield by name: its code is MAN in the project's sample, MAS in mySociety's."""
    for council in councils:
        if council.name.casefold() == MANSFIELD_NAME.casefold():
            return council
    return None
