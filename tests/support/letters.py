"""The Mansfield letter the tests build: the Ombudsman's reference letter (Mansfield District
Council, 2019-20: 50% / 100% / 0%, docs/domain.md §7), decided without a database.

One builder for every test that needs a decided Letter: a test changes only what it is
about (the counts, the year, the averages, the addressee) and the rest stays the reference.
"""

from __future__ import annotations

from datetime import date
from fractions import Fraction

from contracts.financial_year import FinancialYear
from contracts.groups import ComparisonGroup
from contracts.values import ChiefExecutive, Signatory
from services.domain.letter import Letter, build_letter
from services.domain.statistics import CouncilYear, CouncilYearCounts, GroupAverages
from tests.support.narratives import narrative_for

KING = Signatory(
    name="Michael King",
    titles=(
        "Local Government and Social Care Ombudsman",
        "Chair, Commission for Local Administration in England",
    ),
)
BARSBY = ChiefExecutive(
    name="Hayley Barsby",
    job_title="Interim Chief Executive",
    salutation="Ms Barsby",
    email="chief.executive@mansfield.gov.uk",
)
# Mansfield's 2019-20 figures as the reference letter prints them.
MANSFIELD = CouncilYearCounts(
    upheld=1, not_upheld=1, satisfactory_remedies=0, compliance_outcomes=1, compliance_implemented=1
)
MANSFIELD_NAME = "Mansfield District Council"


def mansfield_letter(
    counts: CouncilYearCounts = MANSFIELD,
    start_year: int = 2019,
    *,
    council_name: str = MANSFIELD_NAME,
    addressee: ChiefExecutive = BARSBY,
    population: int | None = None,
    group: ComparisonGroup = ComparisonGroup.DISTRICT,
    group_councils: int = 181,
    uphold: Fraction | None = Fraction(45, 100),
    compliance: Fraction | None = Fraction(99, 100),
    remedy: Fraction | None = Fraction(20, 100),
    average_per_100k: Fraction | None = Fraction(12, 10),
    version: int = 1,
) -> Letter:
    """The letter for ``start_year``'s financial year (2019: the 2019-20 letter of 2020),
    dated 22 July and published 29 July of the next year, with the year's narrative (the
    shipped one, else the tests' own)."""
    year = FinancialYear(start_year)
    return build_letter(
        council_name,
        addressee,
        year,
        CouncilYear("MAN", year, group, counts, population),
        GroupAverages(group, year, group_councils, uphold, compliance, remedy, average_per_100k),
        date(start_year + 1, 7, 22),
        date(start_year + 1, 7, 29),
        KING,
        version=version,
        narrative=narrative_for(year.letter_year),
    )
