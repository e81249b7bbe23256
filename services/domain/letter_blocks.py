"""The three statistics blocks of a letter (uphold, compliance, remedy), decided: each
block's figure, average, sentences, count, base and zero case (docs/domain.md §6 to §8), in
the wording of the letter year's format (services/domain/letter_formats.py)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Literal

from contracts.financial_year import FinancialYear
from services.domain.complaint_overview import complaint_overview
from services.domain.letter_formats import TemplateFeatures
from services.domain.letter_wording import counted, noun, per_100k_phrase
from services.domain.statistics import CouncilYear, GroupAverages, one_decimal, percent

BlockKey = Literal["uphold", "compliance", "remedy"]


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


def uphold_block(
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


def compliance_block(
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


def remedy_block(
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
            f"Adjusted for {council_name}'s population, this is ",
            figure,
            f" {per_100k_phrase(figure)}.",
        ),
        comparison=(
            None
            if average is None
            else Sentence(
                "The average for authorities of this type is ",
                average,
                f" {per_100k_phrase(average)}.",
            )
        ),
    )
