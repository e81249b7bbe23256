"""What the Annual Review letter says: figures, plurals, zero cases and the year's wording.

These test the decided Letter (services/domain/letter.py), without rendering anything.
"""

from __future__ import annotations

from datetime import date
from fractions import Fraction

import pytest

from contracts.financial_year import FinancialYear
from contracts.groups import ComparisonGroup
from services.domain.letter import build_letter
from services.domain.letter_formats import DEFAULT_FORMATS, UnsupportedLetterYear, features_for
from services.domain.statistics import CouncilYear, CouncilYearCounts, GroupAverages
from tests.support.letters import BARSBY, KING, MANSFIELD, mansfield_letter

# --- the reference letter's figures --------------------------------------------------------


def test_mansfield_2020_letter_has_the_reference_figures() -> None:
    letter = mansfield_letter()
    assert letter.template == "2020"
    assert letter.title == "Annual Review letter 2020"
    assert letter.letter_date == "22 July 2020"
    assert letter.publication_date == "29 July 2020"
    assert letter.year_end == "31 March 2020"
    assert [(b.percentage, b.average) for b in letter.blocks] == [(50, 45), (100, 99), (0, 20)]
    assert letter.uphold.count is not None and letter.uphold.count.text == "1 upheld decision"
    assert letter.remedy.count is not None
    assert letter.remedy.count.text == "0 satisfactory remedy decisions"


def test_period_wording_keeps_the_letters_between_to() -> None:
    assert mansfield_letter().uphold.basis == (
        "Statistics are based on a total of 2 detailed investigations "
        "for the period between 1 April 2019 to 31 March 2020"
    )


def test_letter_identity_names_council_year_kind_and_version() -> None:
    identity = mansfield_letter().identity
    assert identity.council_code == "MAN"
    assert identity.year_label == "2019-20"
    assert identity.reference == "MAN/2019-20/annual-review/v1"


def test_2020_remedy_base_is_the_detailed_investigations_count() -> None:
    assert mansfield_letter().remedy.basis == (
        "Statistics are based on a total of 2 detailed investigations "
        "for the period between 1 April 2019 to 31 March 2020"
    )


def test_from_2021_remedy_base_is_the_upheld_count_labelled_upheld_decisions() -> None:
    assert mansfield_letter(start_year=2020).remedy.basis == (
        "Statistics are based on a total of 1 upheld decision "
        "for the period between 1 April 2020 to 31 March 2021"
    )


def test_2020_says_the_authority_and_later_letters_say_the_council() -> None:
    assert "the authority had successfully" in mansfield_letter().compliance.statement.text
    later = mansfield_letter(start_year=2021)
    assert "the Council had successfully" in later.compliance.statement.text
    assert later.remedy.title == "Satisfactory remedies provided by the Council"


# --- rounding ------------------------------------------------------------------------------


def test_uphold_rate_of_one_in_eight_prints_thirteen_percent() -> None:
    letter = mansfield_letter(CouncilYearCounts(upheld=1, not_upheld=7))
    assert letter.uphold.percentage == 13
    assert letter.uphold.statement.text == "13% of complaints we investigated were upheld."


def test_uphold_rate_of_seven_in_eight_prints_eighty_eight_percent() -> None:
    assert mansfield_letter(CouncilYearCounts(upheld=7, not_upheld=1)).uphold.percentage == 88


def test_group_average_of_exactly_half_a_percent_rounds_up() -> None:
    letter = mansfield_letter(uphold=Fraction(445, 1000), compliance=Fraction(995, 1000))
    assert (letter.uphold.average, letter.compliance.average) == (45, 100)


def test_per_100k_figure_rounds_half_up_and_prints_a_whole_number_without_the_decimal() -> None:
    # 1 upheld among 100,000 residents is exactly 1; 1 among 80,000 is 1.25 -> 1.3.
    exact = mansfield_letter(start_year=2022, population=100_000, average_per_100k=Fraction(2))
    assert exact.uphold.per_100k is not None
    assert (exact.uphold.per_100k.figure, exact.uphold.per_100k.average) == ("1", "2")
    tie = mansfield_letter(start_year=2022, population=80_000)
    assert tie.uphold.per_100k is not None and tie.uphold.per_100k.figure == "1.3"


def test_per_100k_of_exactly_one_says_decision_in_the_singular() -> None:
    line = mansfield_letter(
        start_year=2022, population=100_000, average_per_100k=Fraction(1)
    ).uphold
    assert line.per_100k is not None and line.per_100k.comparison is not None
    assert line.per_100k.statement.text == (
        "Adjusted for Mansfield District Council's population, this is "
        "1 upheld decision per 100,000 residents."
    )
    assert line.per_100k.comparison.text == (
        "The average for authorities of this type is 1 upheld decision per 100,000 residents."
    )


# --- plurals -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("upheld", "expected"),
    [(1, "1 upheld decision"), (2, "2 upheld decisions"), (0, "0 upheld decisions")],
)
def test_upheld_count_line_is_singular_only_for_one(upheld: int, expected: str) -> None:
    letter = mansfield_letter(CouncilYearCounts(upheld=upheld, not_upheld=1))
    assert letter.uphold.count is not None and letter.uphold.count.text == expected


@pytest.mark.parametrize(
    ("remedies", "expected"),
    [
        (0, "0 satisfactory remedy decisions"),
        (1, "1 satisfactory remedy decision"),
        (2, "2 satisfactory remedy decisions"),
    ],
)
def test_remedy_count_line_is_singular_only_for_one(remedies: int, expected: str) -> None:
    letter = mansfield_letter(CouncilYearCounts(upheld=2, satisfactory_remedies=remedies))
    assert letter.remedy.count is not None and letter.remedy.count.text == expected


@pytest.mark.parametrize(
    ("outcomes", "expected"),
    [(1, "a total of 1 compliance outcome "), (3, "a total of 3 compliance outcomes ")],
)
def test_compliance_base_is_singular_only_for_one(outcomes: int, expected: str) -> None:
    letter = mansfield_letter(
        CouncilYearCounts(compliance_outcomes=outcomes, compliance_implemented=1)
    )
    assert letter.compliance.basis is not None and expected in letter.compliance.basis


@pytest.mark.parametrize(
    ("not_upheld", "expected"),
    [(0, "a total of 1 detailed investigation "), (1, "a total of 2 detailed investigations ")],
)
def test_investigations_base_is_singular_only_for_one(not_upheld: int, expected: str) -> None:
    letter = mansfield_letter(CouncilYearCounts(upheld=1, not_upheld=not_upheld))
    assert letter.uphold.basis is not None and expected in letter.uphold.basis


# --- zero cases ----------------------------------------------------------------------------


def test_no_investigations_prints_one_plain_sentence_without_rate_or_average() -> None:
    letter = mansfield_letter(CouncilYearCounts(advice_given=3, compliance_outcomes=0))
    block = letter.uphold
    assert (block.percentage, block.average, block.comparison) == (None, None, None)
    assert (block.count, block.basis) == (None, None)
    assert block.statement.text == (
        "We did not investigate any complaints about the authority in this period, "
        "so there is no uphold rate to report."
    )
    assert "%" not in block.statement.text


def test_no_investigations_also_leaves_the_remedy_block_without_a_figure() -> None:
    remedy = mansfield_letter(CouncilYearCounts()).remedy
    assert (remedy.percentage, remedy.average, remedy.count, remedy.basis) == (
        None,
        None,
        None,
        None,
    )


def test_investigations_but_none_upheld_prints_zero_percent_upheld() -> None:
    letter = mansfield_letter(CouncilYearCounts(not_upheld=4))
    assert letter.uphold.percentage == 0
    assert letter.uphold.average == 45
    assert letter.uphold.statement.text == "0% of complaints we investigated were upheld."
    assert letter.uphold.count is not None and letter.uphold.count.text == "0 upheld decisions"


def test_investigations_but_none_upheld_has_no_remedy_rate() -> None:
    remedy = mansfield_letter(CouncilYearCounts(not_upheld=4), start_year=2021).remedy
    assert (remedy.percentage, remedy.average, remedy.comparison) == (None, None, None)
    assert remedy.statement.text == (
        "We did not uphold any complaints about the Council in this period, "
        "so there is no satisfactory remedy rate to report."
    )


def test_no_compliance_outcomes_says_none_were_due_and_prints_no_figures() -> None:
    block = mansfield_letter(CouncilYearCounts(upheld=1)).compliance
    assert block.statement.text == "No recommendations were due for compliance in this period"
    assert (block.percentage, block.average, block.comparison, block.basis) == (
        None,
        None,
        None,
        None,
    )


def test_a_council_with_no_figure_never_shows_the_group_average() -> None:
    letter = mansfield_letter(CouncilYearCounts())
    assert all(block.average is None for block in letter.blocks)


# --- the years -----------------------------------------------------------------------------


@pytest.mark.parametrize("start_year", [2019, 2020, 2021])
def test_per_100k_line_is_absent_before_the_2023_letter(start_year: int) -> None:
    assert mansfield_letter(start_year=start_year, population=100_000).uphold.per_100k is None


@pytest.mark.parametrize("start_year", [2022, 2023])
def test_per_100k_line_is_present_from_the_2023_letter(start_year: int) -> None:
    line = mansfield_letter(start_year=start_year, population=200_000).uphold.per_100k
    assert line is not None
    assert line.statement.text == (
        "Adjusted for Mansfield District Council's population, this is "
        "0.5 upheld decisions per 100,000 residents."
    )
    assert line.comparison is not None
    assert line.comparison.text == (
        "The average for authorities of this type is 1.2 upheld decisions per 100,000 residents."
    )


def test_a_council_without_a_population_has_no_per_100k_lines() -> None:
    # The letter service holds such a letter; released, it prints without them (docs/domain.md §8).
    assert mansfield_letter(start_year=2022, population=None).uphold.per_100k is None


def test_2024_letter_says_a_total_of_n_investigations() -> None:
    letter = mansfield_letter(start_year=2023)
    assert letter.uphold.basis == (
        "Statistics are based on a total of 2 investigations "
        "for the period between 1 April 2023 to 31 March 2024"
    )
    assert "detailed" not in (letter.uphold.basis or "")


def test_2021_to_2023_letters_say_detailed_investigations() -> None:
    for start_year in (2020, 2021, 2022):
        assert "2 detailed investigations" in (
            mansfield_letter(start_year=start_year).uphold.basis or ""
        )


def test_template_family_is_chosen_by_letter_year() -> None:
    assert {year: features_for(year).template for year in DEFAULT_FORMATS} == {
        2020: "2020",
        2021: "2021",
        2022: "2021",
        2023: "2021",
        2024: "2021",
        2025: "2025",
        2026: "2025",
    }


def test_a_letter_year_without_a_format_is_refused_with_the_command_that_fixes_it() -> None:
    with pytest.raises(UnsupportedLetterYear, match="letters narrative set 2027 FILE --format"):
        features_for(2027)
    with pytest.raises(UnsupportedLetterYear):
        mansfield_letter(start_year=2026)


def test_a_later_year_is_printed_in_the_format_registered_with_its_narrative() -> None:
    assert features_for(2027, "2025").overview
    assert features_for(2027, "2021").per_100k
    with pytest.raises(UnsupportedLetterYear, match="unknown letter format"):
        features_for(2027, "2030")  # type: ignore[arg-type]


# --- refusing an inconsistent letter --------------------------------------------------------


def test_averages_of_another_group_are_refused() -> None:
    year = FinancialYear(2019)
    with pytest.raises(ValueError, match="group"):
        build_letter(
            "Mansfield District Council",
            BARSBY,
            year,
            CouncilYear("MAN", year, ComparisonGroup.DISTRICT, MANSFIELD),
            GroupAverages(ComparisonGroup.COUNTY, year, 1, None, None, None, None),
            date(2020, 7, 22),
            date(2020, 7, 29),
            KING,
        )


def test_figures_of_another_year_are_refused() -> None:
    year, other = FinancialYear(2019), FinancialYear(2018)
    with pytest.raises(ValueError, match="2018-19"):
        build_letter(
            "Mansfield District Council",
            BARSBY,
            year,
            CouncilYear("MAN", other, ComparisonGroup.DISTRICT, MANSFIELD),
            GroupAverages(ComparisonGroup.DISTRICT, year, 1, None, None, None, None),
            date(2020, 7, 22),
            date(2020, 7, 29),
            KING,
        )


def test_a_letter_dated_inside_the_year_is_refused() -> None:
    year = FinancialYear(2019)
    with pytest.raises(ValueError, match="not after the year's end"):
        build_letter(
            "Mansfield District Council",
            BARSBY,
            year,
            CouncilYear("MAN", year, ComparisonGroup.DISTRICT, MANSFIELD),
            GroupAverages(ComparisonGroup.DISTRICT, year, 1, None, None, None, None),
            date(2020, 3, 31),
            date(2020, 7, 29),
            KING,
        )


def test_letter_is_frozen() -> None:
    letter = mansfield_letter()
    with pytest.raises(AttributeError):
        letter.council_name = "Elsewhere"  # type: ignore[misc]


# --- the 2025 format: the complaint overview ------------------------------------------------

CALDERDALE_2024_25 = CouncilYearCounts(
    upheld=22,
    not_upheld=7,
    advice_given=5,
    closed_after_initial_enquiries=32,
    incomplete_or_invalid=12,
    referred_back_for_local_resolution=8,
)


def test_2025_letter_opens_the_uphold_block_with_the_published_complaint_overview() -> None:
    letter = mansfield_letter(CALDERDALE_2024_25, start_year=2024, population=200_000)
    assert letter.template == "2025"
    assert letter.uphold.overview == (
        "Between 1 April 2024 to 31 March 2025, we dealt with 86 complaints. Of these, 25 were "
        "not for us or not ready for us to investigate. We assessed and closed 32 complaints. "
        "We investigated 29 complaints.",
        "We investigated 29 complaints and upheld 22.",
    )
    assert letter.uphold.percentage == 76
    assert letter.uphold.basis == (
        "Statistics are based on a total of 29 investigations "
        "for the period between 1 April 2024 to 31 March 2025"
    )
    assert letter.uphold.per_100k is not None


def test_2025_overview_uses_the_singular_and_leaves_out_empty_categories() -> None:
    one_each = CouncilYearCounts(upheld=1, advice_given=1)
    assert mansfield_letter(one_each, start_year=2025).uphold.overview == (
        "Between 1 April 2025 to 31 March 2026, we dealt with 2 complaints. Of these, 1 was not "
        "for us or not ready for us to investigate. We investigated 1 complaint.",
        "We investigated 1 complaint and upheld 1.",
    )


def test_2025_overview_of_a_year_without_investigations_or_decisions() -> None:
    assessed_only = CouncilYearCounts(closed_after_initial_enquiries=3)
    letter = mansfield_letter(assessed_only, start_year=2024)
    assert letter.uphold.overview == (
        "Between 1 April 2024 to 31 March 2025, we dealt with 3 complaints. We assessed and "
        "closed 3 complaints. We did not investigate any of them.",
    )
    assert letter.uphold.percentage is None
    nothing = mansfield_letter(CouncilYearCounts(), start_year=2024)
    assert nothing.uphold.overview == (
        "Between 1 April 2024 to 31 March 2025, we did not decide any complaints about the "
        "Council.",
    )


def test_letters_before_2025_have_no_complaint_overview() -> None:
    for start_year in (2019, 2022, 2023):
        assert mansfield_letter(CALDERDALE_2024_25, start_year=start_year).uphold.overview == ()
