"""The financial year (1 April to 31 March, labelled 2019-20), as properties over all dates."""

from __future__ import annotations

import calendar
from datetime import date, timedelta

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from contracts.financial_year import FinancialYear, NotAFinancialYear, long_date

CASE_DATES = st.dates(min_value=date(1974, 1, 1), max_value=date(2100, 12, 31))
START_YEARS = st.integers(min_value=1900, max_value=2998)
LEAP_YEARS = st.integers(min_value=1976, max_value=2100).filter(calendar.isleap)
ENGLISH_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


@given(CASE_DATES)
def test_the_year_of_a_date_contains_that_date(day: date) -> None:
    year = FinancialYear.of(day)

    assert year.contains(day)
    assert year.first_day <= day <= year.last_day


@given(CASE_DATES)
def test_a_date_belongs_to_exactly_one_year(day: date) -> None:
    year = FinancialYear.of(day)

    assert not FinancialYear(year.start_year - 1).contains(day)
    assert not year.next().contains(day)


@given(st.integers(min_value=1975, max_value=2100))
def test_31_march_belongs_to_the_year_before_1_april_of_the_same_calendar_year(y: int) -> None:
    march = FinancialYear.of(date(y, 3, 31))
    april = FinancialYear.of(date(y, 4, 1))

    assert march == FinancialYear(y - 1)
    assert april == FinancialYear(y)
    assert march.next() == april
    assert march < april


@given(st.dates(min_value=date(1974, 1, 1), max_value=date(2100, 12, 30)))
def test_consecutive_days_share_a_year_or_cross_exactly_at_1_april(day: date) -> None:
    tomorrow = day + timedelta(days=1)
    today_year, tomorrow_year = FinancialYear.of(day), FinancialYear.of(tomorrow)

    if (tomorrow.month, tomorrow.day) == (4, 1):
        assert tomorrow_year == today_year.next()
        assert tomorrow == tomorrow_year.first_day
        assert day == today_year.last_day
    else:
        assert tomorrow_year == today_year


@given(START_YEARS)
@example(1999)  # 1999-00: the century turns
@example(2099)
def test_parse_of_a_label_round_trips(start_year: int) -> None:
    year = FinancialYear(start_year)

    assert FinancialYear.parse(year.label) == year
    assert FinancialYear.parse(year.label).label == year.label
    assert str(year) == year.label


@given(st.text(max_size=12))
@example("٢٠١٩-٢٠")  # Arabic-Indic digits: \d matched them before re.ASCII
@example("2019-20\n")
def test_parse_accepts_only_labels_it_would_print(text: str) -> None:
    try:
        year = FinancialYear.parse(text)
    except NotAFinancialYear:
        return
    assert year.label == text.strip()


@given(LEAP_YEARS)
def test_leap_day_belongs_to_the_year_that_started_the_previous_april(y: int) -> None:
    leap_day = date(y, 2, 29)
    year = FinancialYear.of(leap_day)

    assert year == FinancialYear(y - 1)
    assert year.first_day == date(y - 1, 4, 1)
    assert year.contains(leap_day)
    assert year.last_day == date(y, 3, 31)


@given(START_YEARS)
def test_a_year_runs_from_1_april_to_31_march(start_year: int) -> None:
    year = FinancialYear(start_year)

    assert year.first_day == date(start_year, 4, 1)
    assert year.last_day == date(start_year + 1, 3, 31)
    assert (year.last_day - year.first_day).days in (364, 365)
    assert year.letter_year == start_year + 1


def test_period_wording_for_2019_20_is_exact() -> None:
    assert FinancialYear.parse("2019-20").period_wording == "1 April 2019 to 31 March 2020"


def test_label_of_the_year_starting_2019_is_2019_20() -> None:
    assert FinancialYear(2019).label == "2019-20"
    assert FinancialYear(1999).label == "1999-00"


def test_letter_of_july_2020_covers_2019_20() -> None:
    assert FinancialYear.parse("2019-20").letter_year == 2020


@pytest.mark.parametrize(
    ("day", "text"),
    [
        (date(2020, 7, 2), "2 July 2020"),
        (date(2020, 7, 22), "22 July 2020"),
        (date(2019, 4, 1), "1 April 2019"),
        (date(2024, 2, 29), "29 February 2024"),
    ],
)
def test_long_date_has_no_leading_zero_and_the_full_month_name(day: date, text: str) -> None:
    assert long_date(day) == text


@given(CASE_DATES)
def test_long_date_is_day_month_year(day: date) -> None:
    assert long_date(day) == f"{day.day} {ENGLISH_MONTHS[day.month - 1]} {day.year}"


@pytest.mark.parametrize(
    ("label", "words"),
    [
        ("2019-21", "the second part must be the year after 2019 ('2019-20')"),
        ("19-20", "expected a label like '2019-20'"),
        ("2019", "expected a label like '2019-20'"),
        ("", "expected a label like '2019-20'"),
        ("2019/20", "expected a label like '2019-20'"),
        ("2019-2020", "expected a label like '2019-20'"),
    ],
)
def test_a_label_that_is_not_a_financial_year_is_refused_with_the_reason(
    label: str, words: str
) -> None:
    with pytest.raises(NotAFinancialYear) as caught:
        FinancialYear.parse(label)
    assert words in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_a_label_that_is_not_text_is_refused() -> None:
    with pytest.raises(NotAFinancialYear, match="a label like '2019-20'"):
        FinancialYear.parse(2019)  # type: ignore[arg-type]


@pytest.mark.parametrize("start_year", [1899, 2999])
def test_a_year_out_of_range_is_refused(start_year: int) -> None:
    with pytest.raises(NotAFinancialYear, match="out of range"):
        FinancialYear(start_year)


@pytest.mark.parametrize(
    ("existed_from", "existed_until", "overlaps"),
    [
        (None, None, True),
        (date(2019, 10, 1), None, True),  # created part-way through the year
        (None, date(2019, 4, 1), True),  # abolished on the year's first day
        (None, date(2019, 3, 31), False),  # gone before the year began
        (date(2020, 4, 1), None, False),  # created after the year ended
    ],
)
def test_a_council_that_existed_for_part_of_the_year_overlaps_it(
    existed_from: date | None, existed_until: date | None, overlaps: bool
) -> None:
    assert FinancialYear(2019).overlaps(existed_from, existed_until) is overlaps


def test_years_sort_in_time_order() -> None:
    years = [FinancialYear(2021), FinancialYear(2019), FinancialYear(2020)]
    assert [y.label for y in sorted(years)] == ["2019-20", "2020-21", "2021-22"]
