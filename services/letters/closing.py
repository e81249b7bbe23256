"""Close a financial year: the one use case behind the CLI's ``close-year`` and the office
workspace's sign-off (docs/office.md, "The close with four eyes").

A close pins the narrative in force and its format, so the year's letters print exactly
what was proofed; a year whose letters cannot be made is refused before anything is
published. Publishing is one FinancialYearClosed per partition of the facts topic, then one
on the year-end topic (EventPublisher.close_year), signed with the office's key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID, uuid4

from pydantic import ValidationError

from contracts.codec import describe
from contracts.events import FinancialYearClosed
from contracts.financial_year import FinancialYear
from contracts.values import LETTER_FORMATS
from services.domain.letter_formats import UnsupportedLetterYear, format_advice, format_for
from services.domain.narrative_book import NarrativeBook, NarrativeVersion
from services.platform.kafka.publisher import Position
from services.platform.kafka.reachability import checked_publisher
from services.platform.settings import Settings


class CannotClose(Exception):
    """The year cannot be closed as asked; nothing was published. ``hint`` says what to do."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


@dataclass(frozen=True, slots=True)
class CloseRequest:
    year: FinancialYear
    letter_date: date
    publication_date: date
    signatory_name: str
    signatory_titles: tuple[str, ...]
    close_id: UUID | None = None


def check_request(request: CloseRequest) -> dict[str, Any]:
    """The close's payload (without the narrative), checked as the publisher will check it."""
    payload: dict[str, Any] = {
        "close_id": request.close_id or uuid4(),
        "financial_year": request.year,
        "letter_date": request.letter_date,
        "publication_date": request.publication_date,
        "signatory": {"name": request.signatory_name, "titles": request.signatory_titles},
    }
    try:
        FinancialYearClosed.model_validate({**payload, "partition_count": 1})
    except ValidationError as e:
        raise CannotClose(
            f"cannot close {request.year}: {describe(e).removeprefix('event: ')}"
        ) from None
    return payload


def check_letter_year(year: FinancialYear) -> None:
    """Refused when no letter format exists for the year's letters at all."""
    try:
        format_for(year.letter_year, LETTER_FORMATS[-1])
    except UnsupportedLetterYear as e:
        raise CannotClose(f"cannot close {year}: {e}") from None


def narrative_in_force(book: NarrativeBook, year: FinancialYear) -> NarrativeVersion:
    """The narrative (and format) the year's letters will print, or why there is none."""
    check_letter_year(year)
    letter_year = year.letter_year
    narrative = book.in_force(letter_year)
    if narrative is not None:
        return narrative
    register = f"`annual-review letters narrative set {letter_year} FILE`"
    try:
        format_for(letter_year)
        missing = "no narrative is registered"
    except UnsupportedLetterYear:
        missing = "no narrative (and so no letter format) is registered"
        register = format_advice(letter_year).removeprefix("e.g. ")
    raise CannotClose(
        f"cannot close {year}: {missing} for the {letter_year} letters; nothing was published",
        hint=f"write the year's narrative (docs/narratives.md), proof it with "
        f"`annual-review letters proof {year} --narrative FILE`, then register it with " + register,
    )


def with_narrative(payload: dict[str, Any], narrative: NarrativeVersion) -> dict[str, Any]:
    return payload | {
        "letter_format": narrative.letter_format,
        "narrative_version": narrative.version,
        "narrative_sha256": narrative.sha256,
    }


async def publish_close(
    settings: Settings, payload: dict[str, Any], *, producer: str
) -> list[Position]:
    """Publish the close (markers on every facts partition, then the year-end copy); raises
    KafkaUnavailable when Kafka cannot be reached (nothing published)."""
    async with checked_publisher(settings) as p:
        return await p.close_year(payload, producer=producer)
