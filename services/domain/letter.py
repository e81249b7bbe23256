"""The Annual Review letter's content, decided: every figure, plural and sentence it prints.

Pure: no I/O. The templates only lay out what is built here, so the wording rules of
DOMAIN.md sections 6-8 live in one place and can be tested without rendering anything.

Which year's letter is printed, and how it differs from the others, is one table
(``TEMPLATE_FEATURES``): adding the 2025 letter is one entry there (plus its templates).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from types import MappingProxyType
from typing import Literal

from contracts.events import LetterKind
from contracts.financial_year import FinancialYear, long_date
from contracts.values import ChiefExecutive, Signatory
from services.domain.statistics import CouncilYear, GroupAverages, one_decimal, percent

LETTER_KIND: LetterKind = "annual-review"
MAX_VERSION = 1000  # the LetterIssued event refuses versions above this

BlockKey = Literal["uphold", "compliance", "remedy"]


# --- what changes from one letter year to the next ------------------------------------------


@dataclass(frozen=True, slots=True)
class TemplateFeatures:
    """How one letter year differs from the others (DOMAIN.md section 8)."""

    template: str  # the template family that prints it: "2020" or "2021"
    authority: str  # how the statistics name the council: "the authority" / "the Council"
    remedy_base_is_upheld: bool  # 2020 printed the detailed investigations count instead
    per_100k: bool  # upheld decisions per 100,000 residents, from the 2023 letter
    investigation: str  # the noun in the uphold block's base: "detailed investigation"


TEMPLATE_FEATURES: Mapping[int, TemplateFeatures] = MappingProxyType(
    {
        2020: TemplateFeatures("2020", "the authority", False, False, "detailed investigation"),
        2021: TemplateFeatures("2021", "the Council", True, False, "detailed investigation"),
        2022: TemplateFeatures("2021", "the Council", True, False, "detailed investigation"),
        2023: TemplateFeatures("2021", "the Council", True, True, "detailed investigation"),
        2024: TemplateFeatures("2021", "the Council", True, True, "investigation"),
    }
)


class UnsupportedLetterYear(ValueError):
    """No template features are defined for the letter year asked for."""


def features_for(letter_year: int) -> TemplateFeatures:
    """The features of a letter year; refuses a year nobody has written the letter for
    (a 2025 letter printed with 2024 wording would be wrong, so there is no fallback)."""
    try:
        return TEMPLATE_FEATURES[letter_year]
    except KeyError:
        known = ", ".join(str(y) for y in sorted(TEMPLATE_FEATURES))
        raise UnsupportedLetterYear(
            f"no Annual Review letter template for {letter_year}; known years: {known}"
        ) from None


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

    figure: str | None  # "10.0"; None when the council's population is unknown
    average: str | None
    statement: Sentence
    comparison: Sentence | None


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
) -> Letter:
    """Decide the whole letter for one council and year.

    Refuses (ValueError) figures of another year or comparison group, dates that do not
    follow the year's end, and versions outside 1-1000, so a wrong letter cannot be built.

    Zero cases (DOMAIN.md section 7):

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
    features = features_for(year.letter_year)
    _check_consistent(council_name, year, council, averages, letter_date, publication_date)
    if not 1 <= version <= MAX_VERSION:
        raise ValueError(f"letter version must be between 1 and {MAX_VERSION}, not {version}")
    authority = features.authority
    period = f"for the period between {year.period_wording}"
    return Letter(
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
        uphold=_uphold_block(council, averages, features, period),
        compliance=_compliance_block(council, averages, authority, period),
        remedy=_remedy_block(council, averages, features, period),
    )


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
    council: CouncilYear, averages: GroupAverages, features: TemplateFeatures, period: str
) -> StatisticBlock:
    counts = council.counts
    investigations = counted(counts.detailed_investigations, features.investigation)
    return _block(
        "uphold",
        "Complaints upheld",
        counts.uphold_rate,
        averages.uphold_rate,
        ("", " of complaints we investigated were upheld."),
        f"We did not investigate any complaints about {features.authority} in this period, "
        "so there is no uphold rate to report.",
        CountLine(counts.upheld, noun(counts.upheld, "upheld decision")),
        f"Statistics are based on a total of {investigations} {period}",
        per_100k=_residents_line(council, averages, features),
    )


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
    council: CouncilYear, averages: GroupAverages, features: TemplateFeatures
) -> ResidentsLine | None:
    """Per 100,000 residents, from the 2023 letter; says so plainly when the population is
    unknown. ``upheld decisions`` stays plural whatever the figure: it reads "1.0 upheld
    decisions per 100,000 residents", as the decimal is a rate, not a count."""
    if not features.per_100k:
        return None
    figure = one_decimal(council.upheld_per_100k)
    unit = "upheld decisions per 100,000 residents"
    if figure is None:
        return ResidentsLine(
            figure=None,
            average=None,
            statement=Sentence(
                f"We do not hold a population figure for {features.authority} for this period, "
                f"so we cannot give the number of {unit}."
            ),
            comparison=None,
        )
    average = one_decimal(averages.upheld_per_100k)
    return ResidentsLine(
        figure=figure,
        average=average,
        statement=Sentence("", figure, f" {unit}."),
        comparison=(
            None
            if average is None
            else Sentence(
                "This compares to an average of ", average, f" {unit} in similar authorities."
            )
        ),
    )
