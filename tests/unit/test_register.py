"""The council register as a merge of facts: any order, the same entry (register.py)."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from contracts import CouncilAbolished, CouncilDetailsChanged, CouncilRegistered, new_event
from contracts.financial_year import FinancialYear
from services.domain.population import PopulationEstimate
from services.domain.register import RegistryFact, fact_of, merge, merge_all

T0 = datetime(2024, 6, 1, tzinfo=UTC)


def fact(payload: Any, at: int, partition: int = 0, offset: int | None = None) -> RegistryFact:
    event = new_event(payload, council="AAA", producer="tests",
                      occurred_at=T0 + timedelta(minutes=at))  # fmt: skip
    return fact_of(event, partition, at if offset is None else offset)


def registered(at: int, **kw: Any) -> RegistryFact:
    return fact(CouncilRegistered(name="A Council", comparison_group="District", **kw), at)


def changed(at: int, partition: int = 0, **kw: Any) -> RegistryFact:
    return fact(CouncilDetailsChanged(**kw), at, partition)


def test_no_council_until_it_is_registered() -> None:
    assert merge("AAA", [changed(1, name="Renamed")]) is None


def test_a_change_read_before_the_registration_is_merged_in_its_place() -> None:
    facts = [changed(2, name="Renamed"), registered(1)]
    state = merge("AAA", facts)
    assert state is not None and state.name == "Renamed"


def test_the_latest_statement_of_each_field_wins_in_any_order() -> None:
    facts = [
        registered(1, population=100_000, population_year=2020),
        changed(2, partition=3, name="Renamed"),
        fact(CouncilAbolished(last_day=date(2023, 3, 31)), 3),
        changed(4, comparison_group="Unitary"),
    ]
    states = [merge("AAA", random.Random(seed).sample(facts, len(facts))) for seed in range(20)]
    state = states[0]
    assert state is not None and all(s == state for s in states)
    assert (state.name, state.comparison_group.value, state.existed_until) == (
        "Renamed", "Unitary", date(2023, 3, 31),
    )  # fmt: skip
    assert state.registry_partitions == (0, 3)


def test_a_registration_restates_every_detail_but_keeps_every_population_estimate() -> None:
    state = merge(
        "AAA",
        [
            registered(1, population=100_000, population_year=2021),
            changed(2, name="Renamed"),
            registered(3, population=104_000, population_year=2023),
        ],
    )
    assert state is not None and state.name == "A Council"
    assert state.populations == {2021: 100_000, 2023: 104_000}
    assert state.population_for(FinancialYear(2022)) == PopulationEstimate(2021, 100_000)
    assert state.population_for(FinancialYear(2023)) == PopulationEstimate(2023, 104_000)
    assert state.latest_population == PopulationEstimate(2023, 104_000)


def test_an_estimate_given_again_for_its_year_replaces_it_and_nulls_withdraw_all() -> None:
    facts = [
        registered(1, population=100_000, population_year=2021),
        changed(2, population=101_000, population_year=2021),
    ]
    state = merge("AAA", facts)
    assert state is not None and state.populations == {2021: 101_000}
    state = merge("AAA", [*facts, changed(3, population=None, population_year=None)])
    assert state is not None and state.populations == {}


def test_copy_recipients_are_replaced_by_a_change() -> None:
    leader = {"name": "A Leader", "role": "Leader of the Council", "email": "l@a.example.org"}
    state = merge("AAA", [registered(1, copy_to=[leader]), changed(2, copy_to=[])])
    assert state is not None and state.copy_to == ()
    state = merge("AAA", [registered(1), changed(2, copy_to=[leader])])
    assert state is not None and state.copy_to == (leader,)


def test_facts_at_the_same_time_follow_the_log_within_a_partition() -> None:
    same = [
        fact(CouncilRegistered(name="First", comparison_group="District"), 0, offset=5),
        fact(CouncilDetailsChanged(name="Second"), 0, offset=9),
    ]
    state = merge("AAA", reversed(same))
    assert state is not None and state.name == "Second"


@given(st.permutations(list(range(6))))
def test_merge_all_is_the_same_for_every_order_of_the_facts(order: list[int]) -> None:
    facts = [
        registered(1, population=90_000, population_year=2019),
        changed(2, partition=1, population=95_000, population_year=2022),
        changed(3, partition=2, chief_executive=None),
        fact(CouncilAbolished(last_day=date(2024, 3, 31)), 4),
        changed(5, partition=1, existed_from=date(1974, 4, 1)),
        registered(6, population=97_000, population_year=2023),
    ]
    assert merge_all(facts[i] for i in order) == merge_all(facts)
