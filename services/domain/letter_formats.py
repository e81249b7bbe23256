"""Which letter year is printed in which format, and what each format prints differently
(docs/domain.md §9).

A letter year is a statistics format (``2020``, ``2021`` for 2021-24, ``2025`` onwards) plus
the year's own narrative (services/domain/narrative.py), written by the Ombudsman's office.
The format decides the wording the statistics blocks use; the blocks themselves are built
in services/domain/letter_blocks.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from contracts.financial_year import FinancialYear
from contracts.values import FIRST_LETTER_YEAR, LAST_LETTER_YEAR, LETTER_FORMATS, LetterFormat


@dataclass(frozen=True, slots=True)
class TemplateFeatures:
    """How one letter year differs from the others (docs/domain.md §9)."""

    template: LetterFormat  # the statistics format and the templates that print it
    authority: str  # how the statistics name the council: "the authority" / "the Council"
    remedy_base_is_upheld: bool  # 2020 printed the detailed investigations count instead
    per_100k: bool  # upheld decisions per 100,000 residents, from the 2023 letter
    investigation: str  # the noun in the uphold block's base: "detailed investigation"
    overview: bool = False  # the complaint overview that opens the uphold block, from 2025


# The format each letter year is printed in. A later year gets its format when its narrative
# is registered (``letters narrative set YEAR FILE --format 2025``); 2026 keeping the 2025
# format is the project's assumption (docs/domain.md §9).
DEFAULT_FORMATS: Mapping[int, LetterFormat] = MappingProxyType(
    {
        2020: "2020",
        2021: "2021",
        2022: "2021",
        2023: "2021",
        2024: "2021",
        2025: "2025",
        2026: "2025",
    }
)


def _features(letter_year: int, fmt: LetterFormat) -> TemplateFeatures:
    if fmt == "2020":
        return TemplateFeatures("2020", "the authority", False, False, "detailed investigation")
    if fmt == "2021":
        noun_ = "investigation" if letter_year >= 2024 else "detailed investigation"
        return TemplateFeatures("2021", "the Council", True, letter_year >= 2023, noun_)
    return TemplateFeatures("2025", "the Council", True, True, "investigation", overview=True)


class UnsupportedLetterYear(ValueError):
    """No format is defined for the letter year asked for."""


def format_for(letter_year: int, registered: LetterFormat | None = None) -> LetterFormat:
    """The format a letter year is printed in: the one registered with its narrative, else
    the built-in one; refuses a year nobody has defined (no fallback: a 2027 letter printed
    in some older format could be wrong), and a year there are no letters for at all."""
    if not FIRST_LETTER_YEAR <= letter_year <= LAST_LETTER_YEAR:
        # Checked before the format: no format makes a 2019 letter (`letters narrative set
        # 2018-19 FILE --format 2020` used to pass here and fail in the event's validation).
        first = FinancialYear(FIRST_LETTER_YEAR - 1)
        raise UnsupportedLetterYear(
            f"there are no Annual Review letters for {letter_year}: the letter years are "
            f"{FIRST_LETTER_YEAR} (the letters for {first}) to {LAST_LETTER_YEAR}"
        )
    if registered is not None:
        if registered not in LETTER_FORMATS:
            raise UnsupportedLetterYear(
                f"unknown letter format {registered!r}; known formats: {', '.join(LETTER_FORMATS)}"
            )
        return registered
    try:
        return DEFAULT_FORMATS[letter_year]
    except KeyError:
        raise UnsupportedLetterYear(
            f"no Annual Review letter format for {letter_year}: register the year's narrative "
            f"with its format, {format_advice(letter_year)}"
        ) from None


def format_advice(letter_year: int) -> str:
    """How to give a letter year without a built-in format its format: a command that is
    accepted for that year (only years after the built-in ones get here; the newest format
    is the one a later year most likely keeps)."""
    return (
        f"e.g. `annual-review letters narrative set {letter_year} FILE --format "
        f"{LETTER_FORMATS[-1]}` (formats: {', '.join(LETTER_FORMATS)})"
    )


def features_for(letter_year: int, registered: LetterFormat | None = None) -> TemplateFeatures:
    """The features of a letter year in its format (see ``format_for``)."""
    return _features(letter_year, format_for(letter_year, registered))
