"""A council as a CSV row becomes it: its code and the CouncilRegistered payload."""

from __future__ import annotations

import re
from dataclasses import dataclass

from contracts.events import CouncilRegistered
from contracts.financial_year import FinancialYear
from contracts.groups import ComparisonGroup
from contracts.values import ChiefExecutive

PLACEHOLDER_TITLE = "Chief Executive"


@dataclass(frozen=True, slots=True)
class CouncilRecord:
    """One council read from a file (``line`` is where its row starts, 1-based)."""

    code: str
    details: CouncilRegistered
    line: int | None = None

    @property
    def name(self) -> str:
        return self.details.name

    @property
    def group(self) -> ComparisonGroup:
        return self.details.comparison_group

    def existed_during(self, year: FinancialYear) -> bool:
        return year.overlaps(self.details.existed_from, self.details.existed_until)


def placeholder_chief_executive(code: str, slug: str | None = None) -> ChiefExecutive:
    """An addressee that is obviously not a person: the register names no chief executive.

    ``chief.executive@<slug>.example``: the ``.example`` domain can never deliver mail, so a
    letter cannot reach a real council by accident before someone fills in the real details.
    """
    local = re.sub(r"[^a-z0-9]+", "-", (slug or code).strip().lower()).strip("-")
    return ChiefExecutive(
        name=PLACEHOLDER_TITLE,
        job_title=PLACEHOLDER_TITLE,
        salutation=PLACEHOLDER_TITLE,
        email=f"chief.executive@{local or code.lower()}.example",
    )
