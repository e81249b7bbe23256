"""The service areas and published addresses the simulator gives its decisions.

The mix follows the Ombudsman's review of 2024-25 (docs/domain.md §16): education and
children's services about 27% of cases, housing 17%, adult care 13%, the rest spread over
the other areas. Each is drawn from a random generator seeded by the case reference, not
from the simulator's own stream, so adding them changed no figure the simulator made before
(the oracle, the benchmarks and the sample letters stay as they were).
"""

from __future__ import annotations

import hashlib
import random

from contracts.events import DecisionOutcome, ServiceArea
from contracts.values import decisions_host

# Share of cases per area, in per cent (they add up to 100).
MIX: dict[ServiceArea, int] = {
    ServiceArea.EDUCATION_AND_CHILDRENS_SERVICES: 27,
    ServiceArea.HOUSING: 17,
    ServiceArea.ADULT_CARE_SERVICES: 13,
    ServiceArea.PLANNING_AND_DEVELOPMENT: 10,
    ServiceArea.ENVIRONMENTAL_SERVICES_AND_PUBLIC_PROTECTION: 8,
    ServiceArea.CORPORATE_AND_OTHER_SERVICES: 8,
    ServiceArea.HIGHWAYS_AND_TRANSPORT: 7,
    ServiceArea.BENEFITS_AND_TAX: 7,
    ServiceArea.OTHER: 3,
}
_AREAS = tuple(MIX)
_WEIGHTS = tuple(MIX.values())


def _rng(case_reference: str, salt: str) -> random.Random:
    digest = hashlib.sha256(f"{salt}:{case_reference}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def service_area_of(case_reference: str) -> ServiceArea:
    """The case's area: the same on its decision and every correction."""
    return _rng(case_reference, "area").choices(_AREAS, _WEIGHTS)[0]


def published_url_of(
    case_reference: str, outcome: DecisionOutcome, area: ServiceArea | None = None
) -> str | None:
    """Where the decision statement is published: the Ombudsman publishes most decisions
    after detailed investigation; the simulator gives an address to every such decision."""
    if not outcome.is_detailed_investigation:
        return None
    slug_area = (area or service_area_of(case_reference)).value.replace("_", "-")
    slug = case_reference.replace(" ", "-").lower()
    return f"https://{decisions_host()}/decisions/{slug_area}/{slug}"
