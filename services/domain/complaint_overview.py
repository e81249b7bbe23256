"""The complaint overview that opens the uphold block of the letters from 2025
(docs/domain.md §9)."""

from __future__ import annotations

from contracts.financial_year import FinancialYear
from services.domain.letter_wording import counted
from services.domain.statistics import CouncilYearCounts


def complaint_overview(
    year: FinancialYear, counts: CouncilYearCounts, authority: str
) -> tuple[str, ...]:
    """The 2025 letters' opening of the uphold block, in the published wording (Calderdale
    2024-25), from the outcomes the projector counts (docs/domain.md §9):

    ``Between 1 April 2024 to 31 March 2025, we dealt with 86 complaints. Of these, 25 were
    not for us or not ready for us to investigate. We assessed and closed 32 complaints. We
    investigated 29 complaints.`` then ``We investigated 29 complaints and upheld 22.``

    Project rules where the record is silent: a category with nothing in it is left out, a
    year with no decisions says so in one sentence, and the second sentence is printed only
    when something was investigated (else the block's zero-case sentence follows).
    """
    dealt_with = counts.decisions
    if dealt_with == 0:
        return (
            f"Between {year.period_wording}, we did not decide any complaints about {authority}.",
        )
    not_for_us = (
        counts.incomplete_or_invalid
        + counts.referred_back_for_local_resolution
        + counts.advice_given
    )
    assessed = counts.closed_after_initial_enquiries
    investigated = counts.detailed_investigations
    parts = [f"Between {year.period_wording}, we dealt with {counted(dealt_with, 'complaint')}."]
    if not_for_us:
        verb = "was" if not_for_us == 1 else "were"
        parts.append(
            f"Of these, {not_for_us} {verb} not for us or not ready for us to investigate."
        )
    if assessed:
        parts.append(f"We assessed and closed {counted(assessed, 'complaint')}.")
    if investigated:
        parts.append(f"We investigated {counted(investigated, 'complaint')}.")
        return (
            " ".join(parts),
            f"We investigated {counted(investigated, 'complaint')} and upheld {counts.upheld}.",
        )
    parts.append("We did not investigate any of them.")
    return (" ".join(parts),)
