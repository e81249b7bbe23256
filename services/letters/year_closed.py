"""A year-end close, handled: wait for the projector's snapshot of the year, queue one letter
per council from it (held, for an operator, where its council-year is in doubt), and wake the
dispatcher.

A plain function; the entry point (app.py) passes in what reads and writes the database.
It raises when the close must be redelivered (the snapshot did not complete in time, the
database failed), so the caller acknowledges the close only after it returned: a crash
before the letters are queued redelivers it, and queueing twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from uuid import UUID

import structlog

from contracts.codec import RejectedMessage, decode
from contracts.events import FinancialYearClosed
from contracts.financial_year import FinancialYear
from services.domain import letter_lifecycle as lifecycle
from services.domain.letter_inputs import LetterInputs
from services.domain.letter_lifecycle import LetterState
from services.domain.narrative_book import NarrativeVersion

log = structlog.get_logger(__name__)


def _utc_now() -> datetime:
    return datetime.now(UTC)


# Council -> why its letter must wait; the key None holds every council's letter (dead letters
# that name no council). services/readmodel/letter_reads.py's hold_reasons reads them.
HoldReasons = Mapping[str | None, str]


@dataclass(frozen=True, slots=True)
class NewLetter:
    """A letter to queue: what it is made from, the state it starts in, and why it is held."""

    inputs: LetterInputs
    state: LetterState
    hold_reason: str | None


def letters_to_queue(inputs: Sequence[LetterInputs], holds: HoldReasons) -> list[NewLetter]:
    """Version 1 of each council's letter, held where anything puts its council-year's
    figures in doubt (docs/domain.md §11: a data problem must never go out silently); the
    lifecycle says which state that is."""
    letters = []
    for i in inputs:
        reason = holds.get(i.council) or holds.get(None)
        state = lifecycle.target(lifecycle.on_close(held=bool(reason)))
        letters.append(NewLetter(i, state, reason))
    return letters


@dataclass(frozen=True, slots=True)
class CloseHandling:
    """What handling a close needs from the outside world."""

    # (year's start year, timeout in s) -> whether the year's snapshot completed in time
    wait_for_snapshot: Callable[[int, float], Awaitable[bool]]
    # the year's completed snapshot, one entry per council
    snapshot_inputs: Callable[[FinancialYear], Awaitable[Sequence[LetterInputs]]]
    # why letters of the year must wait for an operator (read after the snapshot completed)
    hold_reasons: Callable[[FinancialYear], Awaitable[HoldReasons]]
    # (close, year, letters) -> letters queued; idempotent per close and council
    create_letters: Callable[[UUID, FinancialYear, Sequence[NewLetter]], Awaitable[int]]
    # the narrative the close's letters print (services.domain.narrative_book.pinned)
    narrative_for: Callable[[FinancialYearClosed], Awaitable[NarrativeVersion | None]]
    wake_dispatcher: Callable[[], None]
    max_age: timedelta  # an older close is not mailed automatically
    snapshot_wait_s: float
    now: Callable[[], datetime] = _utc_now


class CloseOutcome(StrEnum):
    UNREADABLE = "unreadable"  # not a valid event: logged and skipped
    NOT_A_CLOSE = "not-a-close"  # another event on the year-end topic: ignored
    TOO_OLD = "too-old"  # letters are issued by hand
    QUEUED = "queued"


@dataclass(frozen=True, slots=True)
class Handled:
    outcome: CloseOutcome
    letters: int = 0


async def handle_close(value: bytes | None, deps: CloseHandling) -> Handled:
    """One message from the year-end topic."""
    try:
        event = decode(value)
    except RejectedMessage as rejected:
        log.error("unreadable message on the year-end topic; skipped", reason=str(rejected))
        return Handled(CloseOutcome.UNREADABLE)
    close = event.data
    if not isinstance(close, FinancialYearClosed):
        return Handled(CloseOutcome.NOT_A_CLOSE)
    year = close.financial_year
    structlog.contextvars.bind_contextvars(financial_year=str(year))
    age = deps.now() - event.occurred_at
    if age > deps.max_age:
        log.warning("close is too old to mail automatically; issue letters by hand",
                    close_id=str(close.close_id), age_days=age.days)  # fmt: skip
        return Handled(CloseOutcome.TOO_OLD)
    log.info("year closed: waiting for the projector's snapshot", close_id=str(close.close_id))
    if not await deps.wait_for_snapshot(year.start_year, deps.snapshot_wait_s):
        raise TimeoutError(f"the {year} snapshot did not complete in {deps.snapshot_wait_s} s")
    inputs = list(await deps.snapshot_inputs(year))
    narrative = await deps.narrative_for(close)
    if narrative is None:
        # Permanent: each letter fails at render with the reason, for an operator.
        log.error("the close's narrative is not on the narratives topic: its letters will fail",
                  narrative_version=close.narrative_version)  # fmt: skip
    else:
        inputs = [i.with_narrative(narrative) for i in inputs]
    letters = letters_to_queue(inputs, await deps.hold_reasons(year))
    created = await deps.create_letters(close.close_id, year, letters)
    log.info("letters queued", letters=created)
    deps.wake_dispatcher()
    return Handled(CloseOutcome.QUEUED, created)
