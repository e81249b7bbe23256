"""The narrative's use cases for both doors, the workspace's pages and the CLI: register a
version and record who did it on the audit trail, and record proofs made (docs/office.md,
"Narrative" and "Proofs").

The version is published first (its NarrativeRegistered names the person on the envelope's
``actor``), then the action is recorded (OfficeAction.NARRATIVE_REGISTERED): an audit entry
is never written for a version that is not in the log.
"""

from __future__ import annotations

from contracts.events import OfficeAction
from contracts.financial_year import FinancialYear
from contracts.values import LetterFormat
from services.audit.record import ActionRecord, Actor, record_action
from services.domain.narrative_book import NarrativeVersion
from services.letters.narrative_registry import register
from services.platform.kafka.publisher import Position, event_publisher
from services.platform.settings import Settings


def financial_year_of(letter_year: int) -> FinancialYear:
    """The financial year a letter year's letters cover (2026: 2025-26)."""
    return FinancialYear(letter_year - 1)


async def register_narrative(
    settings: Settings,
    actor: Actor,
    letter_year: int,
    markdown: str,
    *,
    letter_format: LetterFormat | None = None,
    note: str | None = None,
    registered_by: str | None = None,
) -> tuple[NarrativeVersion, Position]:
    """Check ``markdown`` (NarrativeError lists every problem: nothing is published), register
    it as the year's next version, then record the action. ``registered_by``: the name kept
    with the version (default: the actor's). Returns the version and its position in the log."""
    version, position = await register(
        settings,
        letter_year,
        markdown,
        letter_format=letter_format,
        registered_by=registered_by or actor.name,
        note=note,
        producer=actor.producer,
        actor=actor.name,
    )
    async with event_publisher(settings) as publisher:
        await record_action(
            publisher,
            actor,
            ActionRecord(
                OfficeAction.NARRATIVE_REGISTERED,
                financial_year=financial_year_of(letter_year),
                subject=f"narrative {letter_year} version {version.version}",
                reason=note,
                details={"sha256": version.sha256, "format": version.letter_format},
            ),
        )
    return version, position


async def record_proofs_made(
    settings: Settings,
    actor: Actor,
    year: FinancialYear,
    *,
    subject: str,
    councils: int,
    narrative_version: int,
    narrative_sha256: str,
    council: str | None = None,
) -> None:
    """Record that ``actor`` made ``councils`` proofs of ``year`` (after they exist)."""
    async with event_publisher(settings) as publisher:
        await record_action(
            publisher,
            actor,
            ActionRecord(
                OfficeAction.PROOFS_MADE,
                financial_year=year,
                council=council,
                subject=subject,
                details={
                    "councils": str(councils),
                    # -1: a draft, not registered yet (services/letters/proof.py DRAFT_VERSION)
                    "narrative_version": str(narrative_version),
                    "narrative_sha256": narrative_sha256,
                },
            ),
        )
