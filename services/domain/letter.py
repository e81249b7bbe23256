"""The Annual Review letter's content, decided: every figure, plural and sentence it prints.

Pure: no I/O. The templates only lay out what is built here, so the wording rules of
docs/domain.md §6 to §9 live in one place and can be tested without rendering anything.
This module builds the Letter; its parts have their own modules: the formats of the letter
years (letter_formats.py), the wording helpers (letter_wording.py), the three statistics
blocks (letter_blocks.py) and the 2025 complaint overview (complaint_overview.py).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

from contracts.events import LetterKind
from contracts.financial_year import FinancialYear, long_date
from contracts.values import ChiefExecutive, LetterFormat, Signatory
from services.domain.letter_blocks import (
    StatisticBlock,
    compliance_block,
    remedy_block,
    uphold_block,
)
from services.domain.letter_formats import features_for
from services.domain.narrative import Narrative, RenderedNarrative
from services.domain.statistics import CouncilYear, GroupAverages

LETTER_KIND: LetterKind = "annual-review"
MAX_VERSION = 1000  # the LetterIssued event refuses versions above this


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
        uphold=uphold_block(council_name, year, council, averages, features, period),
        compliance=compliance_block(council, averages, authority, period),
        remedy=remedy_block(council, averages, features, period),
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
