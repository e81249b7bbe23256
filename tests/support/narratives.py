"""Narratives for tests: the shipped 2020 one, and for later years a test document that stands
in for the office's own (the project ships no narrative after 2020, so none can be sent)."""

from __future__ import annotations

from services.domain.narrative import Narrative, parse
from services.domain.narrative_book import NarrativeVersion
from services.letters.narrative_registry import register
from services.letters.narratives import shipped
from services.platform.settings import Settings

TEST_NARRATIVE = """\
I write to you with our annual summary of statistics on the decisions made by the Local \
Government and Social Care Ombudsman about {authority} for the year ending {year_end}.

# Complaint statistics

We compare these statistics with the average for similar types of authorities. \
{council_name} is compared with the {group_name}.

This data will be published on our interactive map, \
[Your council's performance](https://www.lgo.org.uk/your-councils-performance), along with a \
copy of this letter, on {publication_date}.

# Sharing this letter

I would encourage you to share this letter with the Leader of the Council and the Chair of the \
relevant scrutiny committee.
"""


def narrative_for(letter_year: int) -> Narrative:
    """The shipped narrative of the year, else the test narrative."""
    return shipped(letter_year) or parse(TEST_NARRATIVE)


async def register_test_narrative(
    settings: Settings, letter_year: int, markdown: str = TEST_NARRATIVE
) -> NarrativeVersion:
    """Register a narrative for a letter year on the stack's narratives topic, as the office
    would with `letters narrative set`."""
    version, _ = await register(settings, letter_year, markdown, registered_by="tests")
    return version
