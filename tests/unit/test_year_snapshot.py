"""Which councils a closed year's snapshot holds (year_snapshot.py)."""

from __future__ import annotations

from datetime import date

from contracts.financial_year import FinancialYear
from contracts.groups import ComparisonGroup
from services.domain.population import PopulationEstimate
from services.domain.register import CouncilState
from services.domain.statistics import CouncilYearCounts
from services.domain.year_snapshot import snapshot_councils

Y = FinancialYear(2022)


def state(code: str, **kw: object) -> CouncilState:
    base: dict[str, object] = {
        "code": code, "name": f"{code} Council", "comparison_group": ComparisonGroup.DISTRICT,
        "existed_from": None, "existed_until": None, "populations": {}, "chief_executive": None,
        "copy_to": (), "registry_partitions": (0,),
    }  # fmt: skip
    return CouncilState(**{**base, **kw})  # type: ignore[arg-type]


def test_members_are_the_councils_registered_at_the_cuts_with_their_details_then() -> None:
    then = {"AAA": state("AAA", name="Old name")}
    now = {"AAA": state("AAA", name="New name")}
    (row,) = snapshot_councils(Y, then, now, {"AAA": CouncilYearCounts(upheld=3)})
    assert (row.details.name, row.counts.upheld, row.joined_after_close) == ("Old name", 3, False)


def test_a_council_registered_after_the_close_joins_with_its_counts_at_the_cuts() -> None:
    (row,) = snapshot_councils(Y, {}, {"NEW": state("NEW")}, {"NEW": CouncilYearCounts(upheld=2)})
    assert row.joined_after_close and row.counts.upheld == 2


def test_councils_that_did_not_exist_during_the_year_are_left_out() -> None:
    gone = state("OLD", existed_until=date(2022, 3, 31))
    assert snapshot_councils(Y, {"OLD": gone}, {"OLD": gone}, {}) == []


def test_the_year_uses_its_own_estimate_and_one_registered_since_only_when_it_had_none() -> None:
    then = {
        "AAA": state("AAA", populations={2021: 100, 2022: 110}),
        "BBB": state("BBB"),
    }
    now = {
        "AAA": state("AAA", populations={2021: 100, 2022: 120}),
        "BBB": state("BBB", populations={2023: 90}),
    }
    rows = {r.code: r for r in snapshot_councils(Y, then, now, {})}
    assert rows["AAA"].population == PopulationEstimate(2022, 110)  # the close's estimate
    assert rows["BBB"].population == PopulationEstimate(2023, 90)  # none then: the one since
    # The averages use what was registered at the cuts only (how far the log was read when
    # the year completed must not matter).
    assert rows["BBB"].member(Y).population is None
    assert rows["AAA"].member(Y).population == 110
