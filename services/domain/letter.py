"""The Annual Review letter's content, decided: every figure, plural and sentence it prints.

Pure: no I/O. The templates only lay out what is built here, so the wording rules of
docs/domain.md §6 to §9 live in one place and can be tested without rendering anything.

A letter year is a statistics format (``2020``, ``2021`` for 2021-24, ``2025`` onwards) plus
the year's own narrative (services/domain/narrative.py), written by the Ombudsman's office.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date
from fractions import Fraction
from types import MappingProxyType
from typing import Literal

from contracts.events import LetterKind
from contracts.financial_year import FinancialYear, long_date
from contracts.values import LETTER_FORMATS, ChiefExecutive, LetterFormat, Signatory
from services.domain.narrative import Narrative, RenderedNarrative
from services.domain.statistics import (
    CouncilYear,
    CouncilYearCounts,
    GroupAverages,
    one_decimal,
    percent,
)

LETTER_KIND: LetterKind = "annual-review"
MAX_VERSION = 1000  # the LetterIssued event refuses versions above this

BlockKey = Literal["uphold", "compliance", "remedy"]


# --- what changes from one letter year to the next ------------------------------------------

FORMATS = LETTER_FORMATS


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


TEMPLATE_FEATURES: Mapping[int, TemplateFeatures] = MappingProxyType(
    {year: _features(year, fmt) for year, fmt in DEFAULT_FORMATS.items()}
)


class UnsupportedLetterYear(ValueError):
    """No format is defined for the letter year asked for."""


def format_for(letter_year: int, registered: LetterFormat | None = None) -> LetterFormat:
    """The format a letter year is printed in: the one registered with its narrative, else
    the built-in one; refuses a year nobody has defined (no fallback: a 2027 letter printed
    in some older format could be wrong)."""
    if registered is not None:
        if registered not in FORMATS:
            raise UnsupportedLetterYear(
                f"unknown letter format {registered!r}; known formats: {', '.join(FORMATS)}"
            )
        return registered
    try:
        return DEFAULT_FORMATS[letter_year]
    except KeyError:
        raise UnsupportedLetterYear(
            f"no Annual Review letter format for {letter_year}: register the year's narrative "
            f"with its format, e.g. `annual-review letters narrative set {letter_year} FILE "
            f"--format 2025` (formats: {', '.join(FORMATS)})"
        ) from None


def features_for(letter_year: int, registered: LetterFormat | None = None) -> TemplateFeatures:
    """The features of a letter year in its format (see ``format_for``)."""
    return _features(letter_year, format_for(letter_year, registered))


# --- the pieces of a statistics block --------------------------------------------------------


def noun(number: int, singular: str) -> str:
    """The noun for a count: singular for exactly one, plural (a trailing s) otherwise,
    which is right for every noun the letters count (decision, outcome, investigation)."""
    return singular if number == 1 else singular + "s"


def counted(number: int, singular: str) -> str:
    """``1 upheld decision`` / ``0 upheld decisions`` / ``2 upheld decisions``."""
    return f"{number} {noun(number, singular)}"


@dataclass(frozen=True, slots=True)
class Sentence:
    """A sentence with one figure that the HTML letter emphasises; ``figure`` may be empty."""

    before: str
    figure: str = ""
    after: str = ""

    @property
    def text(self) -> str:
        return f"{self.before}{self.figure}{self.after}"


@dataclass(frozen=True, slots=True)
class CountLine:
    """The count under a rate, e.g. ``1`` / ``upheld decision`` (printed on two lines)."""

    number: int
    label: str

    @property
    def text(self) -> str:
        return f"{self.number} {self.label}"


@dataclass(frozen=True, slots=True)
class ResidentsLine:
    """Upheld decisions per 100,000 residents (letters from 2023); figures as printed."""

    figure: str  # "10", "3.4"
    average: str | None  # None when no council of the group has a population
    statement: Sentence  # "Adjusted for Kent County Council's population, this is ..."
    comparison: Sentence | None  # "The average for authorities of this type is ..."


@dataclass(frozen=True, slots=True)
class StatisticBlock:
    """One of the three statistics as the letter prints it."""

    key: BlockKey
    title: str
    percentage: int | None  # None: no figure this year, and then no average either
    average: int | None
    statement: Sentence  # the rate sentence, or the plain zero-case sentence
    comparison: Sentence | None
    count: CountLine | None
    basis: str | None  # "Statistics are based on a total of ..."
    note: str | None = None
    per_100k: ResidentsLine | None = None
    # From 2025: the complaint overview, then "We investigated N complaints and upheld U."
    overview: tuple[str, ...] = ()

    @property
    def has_figure(self) -> bool:
        return self.percentage is not None


# --- the letter ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LetterIdentity:
    """Which letter this is: one per (council, year, kind), re-issued as new versions."""

    council_code: str
    year: FinancialYear
    kind: LetterKind = LETTER_KIND
    version: int = 1

    @property
    def year_label(self) -> str:
        return self.year.label

    @property
    def reference(self) -> str:
        """``MAN/2019-20/annual-review/v1``."""
        return f"{self.council_code}/{self.year.label}/{self.kind}/v{self.version}"


@dataclass(frozen=True, slots=True)
class Letter:
    """Everything the templates print, already decided."""

    identity: LetterIdentity
    template: str
    letter_year: int
    title: str  # "Annual Review letter 2020"
    council_name: str
    group_name: str  # "District Councils"
    addressee: ChiefExecutive
    signatory: Signatory
    issued_on: date
    letter_date: str  # "22 July 2020"
    publication_date: str
    year_end: str  # "31 March 2020", as in "for the year ending 31 March 2020"
    period: str  # "1 April 2019 to 31 March 2020"
    authority: str  # "the authority" (2020) / "the Council" (2021+)
    uphold: StatisticBlock
    compliance: StatisticBlock
    remedy: StatisticBlock
    # The year's own paragraphs, filled in for this council; None only for a letter built
    # without one, which the renderer refuses (a letter is never sent without its narrative).
    narrative: RenderedNarrative | None = None
    narrative_sha256: str | None = None
    proof: bool = False  # a proof for the office: every page says so, and it is never sent

    @property
    def blocks(self) -> tuple[StatisticBlock, StatisticBlock, StatisticBlock]:
        return (self.uphold, self.compliance, self.remedy)


def build_letter(
    council_name: str,
    addressee: ChiefExecutive,
    year: FinancialYear,
    council: CouncilYear,
    averages: GroupAverages,
    letter_date: date,
    publication_date: date,
    signatory: Signatory,
    version: int = 1,
    *,
    narrative: Narrative | None = None,
    letter_format: LetterFormat | None = None,
    proof: bool = False,
) -> Letter:
    """Decide the whole letter for one council and year, in the year's format
    (``letter_format`` as registered with the narrative, else the built-in one).

    Refuses (ValueError) figures of another year or comparison group, dates that do not
    follow the year's end, and versions outside 1-1000, so a wrong letter cannot be built.

    Zero cases (docs/domain.md §7):

    * no compliance outcomes: ``No recommendations were due for compliance in this period``
      (the Ombudsman's own wording), with neither a percentage nor an average;
    * no detailed investigations (project wording): ``We did not investigate any complaints
      about the authority in this period, so there is no uphold rate to report.``;
    * no upheld decisions (project wording): ``We did not uphold any complaints about the
      authority in this period, so there is no satisfactory remedy rate to report.``

    In each zero case the block is that one sentence: no percentage, no average, no count and
    no "Statistics are based on" line (a base of nought explains nothing). Investigations
    with none upheld is not a zero case for the uphold rate: it prints ``0%``.
    """
    features = features_for(year.letter_year, letter_format)
    _check_consistent(council_name, year, council, averages, letter_date, publication_date)
    if not 1 <= version <= MAX_VERSION:
        raise ValueError(f"letter version must be between 1 and {MAX_VERSION}, not {version}")
    authority = features.authority
    period = f"for the period between {year.period_wording}"
    letter = Letter(
        identity=LetterIdentity(council.council, year, LETTER_KIND, version),
        template=features.template,
        letter_year=year.letter_year,
        title=f"Annual Review letter {year.letter_year}",
        council_name=council_name,
        group_name=averages.group.plural_name,
        addressee=addressee,
        signatory=signatory,
        issued_on=letter_date,
        letter_date=long_date(letter_date),
        publication_date=long_date(publication_date),
        year_end=long_date(year.last_day),
        period=year.period_wording,
        authority=authority,
        uphold=_uphold_block(council_name, year, council, averages, features, period),
        compliance=_compliance_block(council, averages, authority, period),
        remedy=_remedy_block(council, averages, features, period),
        proof=proof,
    )
    if narrative is None:
        return letter
    return replace(
        letter,
        narrative=narrative.render(placeholder_values(letter)),
        narrative_sha256=narrative.sha256,
    )


def placeholder_values(letter: Letter) -> dict[str, str]:
    """What each narrative placeholder prints in this letter (narrative.PLACEHOLDERS)."""
    return {
        "council_name": letter.council_name,
        "authority": letter.authority,
        "group_name": letter.group_name,
        "financial_year": letter.identity.year.label,
        "letter_year": str(letter.letter_year),
        "period": letter.period,
        "year_end": letter.year_end,
        "letter_date": letter.letter_date,
        "publication_date": letter.publication_date,
    }


def _check_consistent(
    council_name: str,
    year: FinancialYear,
    council: CouncilYear,
    averages: GroupAverages,
    letter_date: date,
    publication_date: date,
) -> None:
    if not council_name.strip():
        raise ValueError("the council name is empty")
    if council.year != year or averages.year != year:
        raise ValueError(
            f"letter for {year} given figures for {council.year} and averages for {averages.year}"
        )
    if averages.group != council.group:
        raise ValueError(
            f"{council.council} is in the {council.group} group, "
            f"but the averages are for {averages.group}"
        )
    if letter_date <= year.last_day:
        raise ValueError(f"letter date {letter_date} is not after the year's end {year.last_day}")
    if publication_date < letter_date:
        raise ValueError(f"publication date {publication_date} is before the letter date")


def _block(
    key: BlockKey,
    title: str,
    rate: Fraction | None,
    average_rate: Fraction | None,
    sentence: tuple[str, str],
    zero_case: str,
    count: CountLine | None,
    basis: str,
    note: str | None = None,
    per_100k: ResidentsLine | None = None,
) -> StatisticBlock:
    """A block with its figure, or, when the rate has no denominator, the zero-case sentence
    alone: no percentage, no average, no count and no base line."""
    figure = percent(rate)
    average = None if figure is None else percent(average_rate)
    comparison = (
        None
        if average is None
        else Sentence("This compares to an average of ", f"{average}%", " in similar authorities.")
    )
    zero = figure is None
    return StatisticBlock(
        key=key,
        title=title,
        percentage=figure,
        average=average,
        statement=Sentence(zero_case) if zero else Sentence(sentence[0], f"{figure}%", sentence[1]),
        comparison=comparison,
        count=None if zero else count,
        basis=None if zero else basis,
        note=note,
        per_100k=per_100k,
    )


def _uphold_block(
    council_name: str,
    year: FinancialYear,
    council: CouncilYear,
    averages: GroupAverages,
    features: TemplateFeatures,
    period: str,
) -> StatisticBlock:
    counts = council.counts
    investigations = counted(counts.detailed_investigations, features.investigation)
    block = _block(
        "uphold",
        "Complaints upheld",
        counts.uphold_rate,
        averages.uphold_rate,
        ("", " of complaints we investigated were upheld."),
        f"We did not investigate any complaints about {features.authority} in this period, "
        "so there is no uphold rate to report.",
        CountLine(counts.upheld, noun(counts.upheld, "upheld decision")),
        f"Statistics are based on a total of {investigations} {period}",
        per_100k=_residents_line(council_name, council, averages, features),
    )
    if not features.overview:
        return block
    return replace(block, overview=complaint_overview(year, counts, features.authority))


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


def _compliance_block(
    council: CouncilYear, averages: GroupAverages, authority: str, period: str
) -> StatisticBlock:
    counts = council.counts
    outcomes = counted(counts.compliance_outcomes, "compliance outcome")
    return _block(
        "compliance",
        "Compliance with Ombudsman recommendations",
        counts.compliance_rate,
        averages.compliance_rate,
        (
            "In ",
            f" of cases we were satisfied {authority} had successfully implemented our "
            "recommendations.",
        ),
        "No recommendations were due for compliance in this period",  # the Ombudsman's words
        None,  # the letters print no count line for compliance
        f"Statistics are based on a total of {outcomes} {period}",
        # Printed whatever the figure, as the 2020 letter does: it explains the rate.
        note="Failure to comply with our recommendations is rare. An authority with a "
        "compliance rate below 100% should scrutinise those complaints where it failed to "
        "comply and identify any learning.",
    )


def _remedy_block(
    council: CouncilYear, averages: GroupAverages, features: TemplateFeatures, period: str
) -> StatisticBlock:
    counts = council.counts
    authority = features.authority
    # 2020 printed the detailed investigations here although the rate is of upheld cases.
    base = (
        counted(counts.upheld, "upheld decision")
        if features.remedy_base_is_upheld
        else counted(counts.detailed_investigations, features.investigation)
    )
    remedies = counts.satisfactory_remedies
    return _block(
        "remedy",
        f"Satisfactory remedies provided by {authority}",
        counts.satisfactory_remedy_rate,
        averages.satisfactory_remedy_rate,
        (
            "In ",
            f" of upheld cases we found {authority} had provided a satisfactory remedy "
            "before the complaint reached the Ombudsman.",
        ),
        f"We did not uphold any complaints about {authority} in this period, so there is no "
        "satisfactory remedy rate to report.",
        CountLine(remedies, noun(remedies, "satisfactory remedy decision")),
        f"Statistics are based on a total of {base} {period}",
    )


def _residents_line(
    council_name: str, council: CouncilYear, averages: GroupAverages, features: TemplateFeatures
) -> ResidentsLine | None:
    """Upheld decisions per 100,000 residents, from the 2023 letter, in the published wording:

    ``Adjusted for Kent County Council's population, this is 3.4 upheld decisions per 100,000
    residents.`` / ``The average for authorities of this type is 3.4 upheld decisions per
    100,000 residents.`` A whole number prints without the decimal (``10``), and exactly 1
    reads ``1 upheld decision`` (docs/domain.md §6 and §8). A council with no population
    has no per-100,000 lines: the letter service holds such a letter until an operator
    registers a population or releases it."""
    if not features.per_100k:
        return None
    figure = one_decimal(council.upheld_per_100k)
    if figure is None:
        return None
    average = one_decimal(averages.upheld_per_100k)
    return ResidentsLine(
        figure=figure,
        average=average,
        statement=Sentence(
            f"Adjusted for {council_name}'s population, this is ", figure, f" {_per_100k(figure)}."
        ),
        comparison=(
            None
            if average is None
            else Sentence(
                "The average for authorities of this type is ", average, f" {_per_100k(average)}."
            )
        ),
    )


def _per_100k(figure: str) -> str:
    return f"{noun(1 if figure == '1' else 2, 'upheld decision')} per 100,000 residents"
