"""Council CSV import: the project's format, mySociety's register, and the built-in sample."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from contracts.codec import decode, encode
from contracts.events import CouncilRegistered
from contracts.financial_year import FinancialYear
from contracts.groups import ComparisonGroup
from services.councils import CsvFormat, load_sample, read_councils, registration_events
from services.councils.importer import CsvFileError

REPO = Path(__file__).resolve().parents[2]
REGISTER = REPO.parent / "shared" / "data" / "uk_local_authorities.csv"

PROJECT_HEADER = (
    "code,name,comparison_group,existed_from,existed_until,population,population_year,"
    "chief_executive_name,chief_executive_job_title,chief_executive_salutation,"
    "chief_executive_email\n"
)

MYSOCIETY_HEADER = (
    "local-authority-code,official-name,nice-name,gss-code,start-date,end-date,replaced-by,"
    "nation,region,local-authority-type,local-authority-type-name,gov-uk-slug,pop-2020\n"
)


def register_file() -> Path:
    if not REGISTER.exists():
        pytest.skip(
            f"mySociety's register is not at {REGISTER} (shared data, not in the repository): "
            "the 344/318 council counts cannot be checked"
        )
    return REGISTER


# --- the built-in sample -------------------------------------------------------------------


def test_the_sample_has_two_or_more_councils_per_group() -> None:
    councils = load_sample()
    assert 10 <= len(councils) <= 14
    for group in ComparisonGroup:
        assert sum(c.group is group for c in councils) >= 2, group


def test_the_sample_has_mansfield_with_its_real_addressee() -> None:
    mansfield = next(c for c in load_sample() if c.code == "MAN")
    assert mansfield.name == "Mansfield District Council"
    assert mansfield.group is ComparisonGroup.DISTRICT
    ce = mansfield.details.chief_executive
    assert ce is not None
    assert (ce.name, ce.job_title, ce.salutation) == (
        "Hayley Barsby",
        "Interim Chief Executive",
        "Ms Barsby",
    )
    assert "@" in ce.email


# --- the project's format ------------------------------------------------------------------


def test_project_format_reads_every_column() -> None:
    report = read_councils(
        PROJECT_HEADER + 'NEW,New Council,unitary,2019-04-01,2023-03-31,"120,000",2020,'
        "Ann Smith,Chief Executive,Ms Smith,ann.smith@new.example\n"
        + "OLD,Old District Council,District Councils,,,,,,,,\n"
    )
    assert report.format is CsvFormat.PROJECT
    assert not report.invalid
    new, old = report.councils
    assert new.code == "NEW" and new.line == 2
    assert new.details.comparison_group is ComparisonGroup.UNITARY
    assert (new.details.existed_from, new.details.existed_until) == (
        date(2019, 4, 1),
        date(2023, 3, 31),
    )
    assert (new.details.population, new.details.population_year) == (120_000, 2020)
    assert new.details.chief_executive is not None
    assert new.details.chief_executive.salutation == "Ms Smith"
    assert old.group is ComparisonGroup.DISTRICT and old.details.chief_executive is None


def test_copy_recipients_come_from_numbered_columns_three_cells_each() -> None:
    header = PROJECT_HEADER.rstrip("\n") + (
        ",copy_to_1_name,copy_to_1_role,copy_to_1_email,copy_to_2_name,copy_to_2_role,"
        "copy_to_2_email\n"
    )
    report = read_councils(
        header
        + "AAA,A Council,County,,,,,,,,,Cllr Lee,Leader of the Council,leader@a.example,,,\n"
        + "BBB,B Council,County,,,,,,,,,,,,Cllr Roe,Chair of Scrutiny,chair@b.example\n"
        + "CCC,C Council,County,,,,,,,,,Cllr Kay,,kay@c.example,,,\n"  # line 4: no role
        + "DDD,D Council,County,,,,,,,,,,,,,,\n"
    )
    by_line = {row.line: row.reason for row in report.invalid}
    assert list(by_line) == [4] and "copy_to_1_role" in by_line[4]
    a, b, d = report.councils
    assert [c.model_dump() for c in a.details.copy_to] == [
        {"name": "Cllr Lee", "role": "Leader of the Council", "email": "leader@a.example"}
    ]
    assert [c.role for c in b.details.copy_to] == ["Chair of Scrutiny"]
    assert d.details.copy_to == ()


def test_invalid_rows_are_reported_with_their_line_numbers() -> None:
    report = read_councils(
        PROJECT_HEADER
        + "AAA,Good Council,County,,,,,,,,\n"
        + "BBB,Bad Date Council,County,2019-02-30,,,,,,,\n"  # line 3
        + "CCC,Bad Group Council,Parish,,,,,,,,\n"  # line 4
        + 'DDD,"Two\nLine Name",County,,,100,,,,,\n'  # line 5 (a cell spans lines 5-6)
        + "EEE,Half Chief Council,County,,,,,Ann Smith,,,\n"  # line 7
        + "AAA,Again Council,County,,,,,,,,\n"  # line 8
        + "f!,Bad Code Council,County,,,,,,,,\n"  # line 9
        + "GGG,Ends Before It Starts,County,2020-01-01,2019-01-01,,,,,,\n"  # line 10
        + "HHH,Bad Email Council,County,,,,,Ann,CE,Ms A,not-an-email\n"  # line 11
    )
    by_line = {row.line: row.reason for row in report.invalid}
    assert sorted(by_line) == [3, 4, 5, 7, 8, 9, 10, 11]
    assert "existed_from" in by_line[3] and "YYYY-MM-DD" in by_line[3]
    assert "Parish" in by_line[4] and "District" in by_line[4]
    # A name over two lines: refused for its line break (it would break an e-mail header).
    assert "U+000A (LINE FEED)" in by_line[5] and by_line[5].startswith("name")
    assert "chief_executive_job_title" in by_line[7]
    assert "already on line 2" in by_line[8]
    assert "3 to 10 letters or digits" in by_line[9]
    assert "before existed_from" in by_line[10]
    assert "email" in by_line[11]
    assert [c.code for c in report.councils] == ["AAA"]


def test_a_file_that_is_no_known_format_is_refused_as_a_whole() -> None:
    with pytest.raises(CsvFileError, match="neither"):
        read_councils("a,b\n1,2\n")
    with pytest.raises(CsvFileError, match="empty"):
        read_councils("\n\n")
    with pytest.raises(CsvFileError, match="unknown column"):
        read_councils("code,name,comparison_group,colour\nAAA,A,County,red\n")
    with pytest.raises(CsvFileError, match="local-authority-code"):
        read_councils(PROJECT_HEADER + "AAA,A,County,,,,,,,,\n", fmt=CsvFormat.MYSOCIETY)


def test_year_keeps_the_councils_that_existed_during_any_part_of_it() -> None:
    report = read_councils(
        PROJECT_HEADER
        + "GON,Gone Council,County,,2019-04-01,,,,,,\n"  # one day of 2019-20: in
        + "LTR,Later Council,County,2020-04-01,,,,,,,\n"  # starts after 2019-20: out
        + "EARL,Earlier Council,County,,2019-03-31,,,,,,\n",  # ended before: out
        year=FinancialYear(2019),
    )
    assert [c.code for c in report.councils] == ["GON"]
    assert report.skipped == {"did not exist in 2019-20": 2}


# --- mySociety's register ------------------------------------------------------------------


def test_mysociety_rows_map_to_comparison_groups_and_placeholder_addressees() -> None:
    report = read_councils(
        MYSOCIETY_HEADER
        + "MAS,Mansfield District Council,Mansfield,E07000174,,,,England,East Midlands,NMD,"
        "Non-metropolitan district,mansfield,109351.0\n"
        + "KEN,Kent County Council,Kent,E10000016,,,,England,South East,CTY,County,kent,"
        "1589057.0\n"
        + "LND,City of London Corporation,City of London,E09000001,2005-06-28,,,England,"
        "London,CC,City corporation,city-of-london,10938.0\n"
        + "ABE,Aberdeen City Council,Aberdeen,S12000033,,,,Scotland,Scotland,SCO,Scottish,"
        "aberdeen,229060.0\n"
        + "GMCA,Greater Manchester Combined Authority,GM,E47000001,,,,England,North West,COMB,"
        "Combined authority,,\n" + "XYZ,Parish Council,X,E0,,,,England,South East,PAR,Parish,,\n"
    )
    assert report.format is CsvFormat.MYSOCIETY
    groups = {c.code: c.group for c in report.councils}
    assert groups == {
        "MAS": ComparisonGroup.DISTRICT,
        "KEN": ComparisonGroup.COUNTY,
        "LND": ComparisonGroup.LONDON_BOROUGH,
    }
    assert report.skipped == {
        "not in England (Scotland)": 1,
        "combined authority (COMB)": 1,
        "type PAR is not in a comparison group": 1,
    }
    mansfield = report.councils[0].details
    assert (mansfield.population, mansfield.population_year) == (109_351, 2020)
    assert mansfield.chief_executive is not None
    assert mansfield.chief_executive.name == "Chief Executive"
    assert mansfield.chief_executive.salutation == "Chief Executive"
    assert mansfield.chief_executive.email == "chief.executive@mansfield.example"
    assert report.councils[2].details.existed_from == date(2005, 6, 28)


def test_mysociety_end_date_that_is_the_successors_first_day_ends_the_day_before() -> None:
    report = read_councils(
        MYSOCIETY_HEADER
        + "OLD,Old County Council,Old,E1,,2023-04-01,NEW,England,X,CTY,County,old,\n"
        + "NEW,New Council,New,E2,2023-04-01,,,England,X,UA,Unitary,new,100.0\n"
        + "DOR,Dorset County Council,D,E3,,2019-03-31,DST,England,X,CTY,County,,\n"
        + "DST,Dorset Council,D,E4,2019-04-01,,,England,X,UA,Unitary,,\n"
        + "ORP,Orphan District Council,O,E5,,2021-04-01,ZZZ,England,X,NMD,District,,\n"
    )
    until = {c.code: c.details.existed_until for c in report.councils}
    assert until["OLD"] == date(2023, 3, 31)
    assert until["DOR"] == date(2019, 3, 31)
    assert until["ORP"] == date(2021, 4, 1)  # successor unknown: the register's date stands
    year = FinancialYear(2023)
    assert not report.councils[0].existed_during(year)
    assert report.councils[1].code == "NEW" and report.councils[1].existed_during(year)
    assert report.councils[2].details.chief_executive is not None
    assert report.councils[2].details.chief_executive.email == "chief.executive@dor.example"


@pytest.mark.parametrize(("label", "expected"), [("2019-20", 344), ("2023-24", 318)])
def test_the_register_gives_the_reviews_council_counts(label: str, expected: int) -> None:
    report = read_councils(register_file(), year=FinancialYear.parse(label))
    assert report.format is CsvFormat.MYSOCIETY
    assert not report.invalid
    assert len(report.councils) == expected
    assert len({c.code for c in report.councils}) == expected
    assert set(report.by_group()) == {g.value for g in ComparisonGroup}


def test_the_whole_register_reads_without_invalid_rows() -> None:
    report = read_councils(register_file())
    assert not report.invalid
    assert report.skipped["combined authority (COMB)"] == 14
    assert not any(c.details.existed_until == date(2023, 4, 1) for c in report.councils)


# --- events --------------------------------------------------------------------------------


def test_registration_events_are_keyed_by_council_and_pass_the_contract() -> None:
    events = registration_events(load_sample(), producer="tests")
    assert [e.key for e in events] == [c.code.encode() for c in load_sample()]
    for event in events:
        assert isinstance(event.data, CouncilRegistered)
        assert decode(encode(event)) == event


def test_a_byte_order_mark_does_not_hide_the_header(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_text(PROJECT_HEADER + "AAA,A Council,County,,,,,,,,\n", encoding="utf-8-sig")
    assert [c.code for c in read_councils(path).councils] == ["AAA"]
