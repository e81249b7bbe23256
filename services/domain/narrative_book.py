"""Every letter year's narratives, version by version: the registrations, folded in log order.

Pure: no I/O. The registrations come from the narratives topic (one partition, so one order);
a year's versions are numbered 1, 2, ... in that order, counting only documents that pass the
checks of ``narrative.parse`` (a refused one is listed with its reasons and gets no number).
Version 0 is a narrative shipped with the project (2020: the reference letter's words).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from contracts.events import FinancialYearClosed, NarrativeRegistered
from contracts.values import LetterFormat
from services.domain.letter_formats import UnsupportedLetterYear, format_for
from services.domain.narrative import Narrative, NarrativeError, content_hash, parse


@dataclass(frozen=True, slots=True)
class NarrativeVersion:
    """One version of a letter year's narrative, as a letter prints it."""

    letter_year: int
    version: int  # 0: shipped with the project
    letter_format: LetterFormat
    markdown: str
    registered_at: datetime | None = None
    registered_by: str | None = None
    note: str | None = None

    @property
    def sha256(self) -> str:
        return content_hash(self.markdown)

    @property
    def document(self) -> Narrative:
        return parse(self.markdown)


@dataclass(frozen=True, slots=True)
class RefusedRegistration:
    """A registration that cannot be printed (it came from another producer than the CLI,
    which checks first): shown by ``letters narrative list``, never used."""

    letter_year: int
    registered_at: datetime
    reason: str


@dataclass(frozen=True, slots=True)
class Registration:
    event: NarrativeRegistered
    registered_at: datetime


@dataclass(slots=True)
class NarrativeBook:
    versions: dict[int, list[NarrativeVersion]] = field(default_factory=dict)
    refused: list[RefusedRegistration] = field(default_factory=list)

    def in_force(self, letter_year: int) -> NarrativeVersion | None:
        """The latest version of the year (a shipped one when nothing was registered)."""
        found = self.versions.get(letter_year)
        return found[-1] if found else None

    def version(self, letter_year: int, number: int) -> NarrativeVersion | None:
        for v in self.versions.get(letter_year, ()):
            if v.version == number:
                return v
        return None

    def years(self) -> list[int]:
        return sorted(self.versions)


def fold(registrations: Iterable[Registration], shipped: Mapping[int, str]) -> NarrativeBook:
    """The book of ``registrations`` (in log order) over the ``shipped`` documents (by year)."""
    book = NarrativeBook()
    for year, markdown in sorted(shipped.items()):
        book.versions[year] = [NarrativeVersion(year, 0, format_for(year), markdown)]
    for r in registrations:
        e = r.event
        try:
            letter_format = format_for(e.letter_year, e.letter_format)
            parse(e.markdown)
        except (UnsupportedLetterYear, NarrativeError) as refused:
            book.refused.append(RefusedRegistration(e.letter_year, r.registered_at, str(refused)))
            continue
        versions = book.versions.setdefault(e.letter_year, [])
        number = 1 + max((v.version for v in versions), default=0)
        versions.append(
            NarrativeVersion(
                e.letter_year,
                number,
                letter_format,
                e.markdown,
                r.registered_at,
                e.registered_by,
                e.note,
            )
        )
    return book


def pinned(book: NarrativeBook, close: FinancialYearClosed) -> NarrativeVersion | None:
    """The narrative a close's letters print: the version it pinned, if the book has exactly
    that document (same sha256); for a close from before narratives were pinned (schema
    version 1), the version in force. None: the letters cannot be made (they fail, saying so).
    """
    letter_year = close.financial_year.letter_year
    if close.narrative_version is None:
        return book.in_force(letter_year)
    found = book.version(letter_year, close.narrative_version)
    if found is None or found.sha256 != close.narrative_sha256:
        return None
    return found
