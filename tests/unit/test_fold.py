"""The casebook fold: docs/domain.md §3 and §4, without servers."""

from __future__ import annotations

import contextlib
import random
from collections import Counter
from collections.abc import Iterable
from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts import Envelope, LetterIssued, Reason, RejectedMessage, new_event
from services.domain.fold import WorkingSet, apply
from tests.support.casework import (
    complied,
    corrected,
    council,
    decided,
    expected_figures,
    random_casework,
    withdrawn,
)

D, E = date(2019, 6, 1), date(2020, 6, 1)


def fold(events: Iterable[Envelope[Any]], partition: int = 0) -> WorkingSet:
    ws = WorkingSet()
    for offset, e in enumerate(events):
        apply(ws, e, partition=partition, offset=offset)
    return ws


def figures(ws: WorkingSet) -> dict[tuple[str, int], dict[str, int]]:
    """The contributions of every partition, summed per council-year (zeros left out)."""
    summed: dict[tuple[str, int], Counter[str]] = {}
    for (council_code, year, _), deltas in ws.deltas.items():
        summed.setdefault((council_code, year), Counter()).update(deltas)
    return {k: {n: v for n, v in d.items() if v} for k, d in summed.items() if any(d.values())}


def test_an_upheld_decision_counts_as_a_detailed_investigation_in_its_decision_year() -> None:
    ws = fold([council("AAA", "District"), decided("AAA", "1", date(2020, 3, 31), "upheld")])
    assert figures(ws) == {("AAA", 2019): {"upheld": 1}}


def test_a_decision_on_the_first_of_april_belongs_to_the_new_year() -> None:
    ws = fold([council("AAA", "District"), decided("AAA", "1", date(2020, 4, 1), "not_upheld")])
    assert figures(ws) == {("AAA", 2020): {"not_upheld": 1}}


def test_a_correction_replaces_the_decision_and_its_remedy_finding() -> None:
    ws = fold(
        [
            council("AAA", "District"),
            decided("AAA", "1", D, "upheld", remedy=True),
            corrected("AAA", "1", D, "not_upheld"),
        ]
    )
    assert figures(ws) == {("AAA", 2019): {"not_upheld": 1}}


def test_a_correction_dated_in_another_year_moves_the_case_there() -> None:
    ws = fold(
        [
            council("AAA", "District"),
            decided("AAA", "1", D, "upheld"),
            corrected("AAA", "1", E, "upheld", remedy=True),
        ]
    )
    assert figures(ws) == {("AAA", 2020): {"upheld": 1, "satisfactory_remedies": 1}}


def test_a_withdrawn_decision_leaves_the_statistics() -> None:
    ws = fold(
        [council("AAA", "District"), decided("AAA", "1", D, "upheld"), withdrawn("AAA", "1", E)]
    )
    assert figures(ws) == {}


def test_compliance_outcomes_count_in_the_year_recorded_and_only_implemented_ones_comply() -> None:
    ws = fold(
        [
            council("AAA", "District"),
            complied("AAA", "9", D, implemented=True),
            complied("AAA", "8", D, implemented=False),
        ]
    )
    assert figures(ws) == {("AAA", 2019): {"compliance_outcomes": 2, "compliance_implemented": 1}}


@pytest.mark.parametrize(
    ("events", "reason", "words"),
    [
        (
            [
                council("AAA", "District"),
                decided("AAA", "1", D, "upheld"),
                decided("AAA", "1", D, "not_upheld"),
            ],
            Reason.CONFLICT,
            "already has a decision",
        ),
        (
            [council("AAA", "District"), corrected("AAA", "1", D, "upheld")],
            Reason.CONFLICT,
            "no standing decision to correct on partition 0",
        ),
        (
            [
                council("AAA", "District"),
                council("BBB", "District"),
                decided("AAA", "1", D, "upheld"),
                corrected("BBB", "1", D, "upheld"),
            ],
            Reason.CONFLICT,
            "cannot move a case to another council",
        ),
        (
            [council("AAA", "District"), withdrawn("AAA", "1", D)],
            Reason.CONFLICT,
            "no standing decision to withdraw on partition 0",
        ),
    ],
)
def test_facts_that_do_not_fit_what_came_before_are_refused_with_a_reason(
    events: list[Envelope[Any]], reason: Reason, words: str
) -> None:
    *before, last = events
    ws = fold(before)
    snapshot = figures(ws)
    with pytest.raises(RejectedMessage) as refused:
        apply(ws, last, partition=0)
    assert refused.value.reason is reason
    assert words in refused.value.detail
    assert figures(ws) == snapshot  # a refused event changes nothing


def test_a_letter_event_on_the_facts_topic_is_refused_not_crashed_on() -> None:
    ws = fold([council("AAA", "District")])
    event: Envelope[Any] = new_event(
        LetterIssued(
            financial_year="2019-20",
            version=1,
            message_id="<x@y>",
            template_version="t",
            text_sha256="0" * 64,
            html_sha256="0" * 64,
            pdf_sha256="0" * 64,
        ),
        council="AAA",
        producer="tests",
    )
    with pytest.raises(RejectedMessage) as refused:
        apply(ws, event, partition=0)
    assert refused.value.reason is Reason.WRONG_TOPIC


def test_changes_to_a_year_cut_on_their_partition_are_reported_late() -> None:
    ws = fold([council("AAA", "District")])
    ws.cut_years[0] = {2019}  # 2019-20's close marker on partition 0 has been read
    apply(ws, decided("AAA", "1", D, "upheld"), partition=0)
    apply(ws, decided("AAA", "2", E, "upheld"), partition=0)
    apply(ws, decided("AAA", "3", D, "upheld"), partition=1)  # not cut on partition 1 yet
    assert [key for _, key in ws.late] == [("AAA", 2019, 0)]


def test_a_decision_for_a_council_not_registered_is_folded_for_parking_not_refused() -> None:
    ws = fold([decided("ZZZ", "1", D, "upheld")])
    assert figures(ws) == {("ZZZ", 2019): {"upheld": 1}}
    assert [(f.event.council, f.financial_year) for f in ws.folded] == [("ZZZ", 2019)]


def test_registry_events_are_facts_with_their_place_in_the_log() -> None:
    ws = WorkingSet()
    apply(ws, council("AAA", "District"), partition=3, offset=41)
    (fact,) = ws.facts
    assert (fact.council, fact.partition, fact.offset) == ("AAA", 3, 41)
    assert fact.fields["name"] == "AAA Council" and fact.fields["population_year"] == 2020
    assert ws.deltas == {}


def test_a_correction_on_another_partition_than_its_case_is_refused_saying_what_to_fix() -> None:
    ws = fold([council("AAA", "District"), decided("AAA", "1", D, "upheld")], partition=1)
    with pytest.raises(RejectedMessage) as refused:
        apply(ws, corrected("AAA", "1", D, "not_upheld"), partition=4)
    assert refused.value.reason is Reason.CONFLICT
    detail = refused.value.detail
    assert "no standing decision to correct on partition 4" in detail
    assert "known on partition 1" in detail
    assert "one producer with one key and partitioner" in detail
    assert figures(ws) == {("AAA", 2019): {"upheld": 1}}  # the case on partition 1 stands


def test_the_reason_for_a_correction_read_before_its_case_says_the_same_fix() -> None:
    ws = WorkingSet()
    with pytest.raises(RejectedMessage) as refused:
        apply(ws, corrected("AAA", "1", D, "not_upheld"), partition=4)
    assert refused.value.reason is Reason.CONFLICT
    assert "one producer with one key and partitioner" in refused.value.detail


def test_the_same_case_decided_on_two_partitions_counts_on_each_for_the_conflict_view() -> None:
    ws = fold([decided("AAA", "1", D, "upheld")], partition=1)
    apply(ws, decided("AAA", "1", D, "upheld"), partition=2)
    assert sorted(ws.cases) == [("1", 1), ("1", 2)]
    assert figures(ws) == {("AAA", 2019): {"upheld": 2}}


def _per_partition(events: list[Envelope[Any]], partitions: int, seed: int) -> list[list[Any]]:
    """Each case's events on one partition (as one producer would put them), compliance
    outcomes anywhere: the partitions' sequences, each in log order."""
    rng = random.Random(seed)
    where: dict[str, int] = {}
    out: list[list[Any]] = [[] for _ in range(partitions)]
    for e in events:
        ref = getattr(e.data, "case_reference", None)
        p = where.setdefault(ref, rng.randrange(partitions)) if ref else rng.randrange(partitions)
        out[p].append(e)
    return out


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.randoms(use_true_random=False))
def test_any_interleaving_of_the_partitions_folds_to_the_same_rows(
    seed: int, rng: random.Random
) -> None:
    councils = ["AAA", "BBB", "CCC"]
    events = [council(c, "District") for c in councils] + list(
        random_casework(councils, 300, seed=seed)
    )
    sequences = _per_partition(events, 3, seed)

    def folded(order: list[int]) -> tuple[Any, ...]:
        ws, heads = WorkingSet(), [0, 0, 0]
        for p in order:
            apply_or_refuse(ws, sequences[p][heads[p]], p, heads[p])
            heads[p] += 1
        return (
            {k: dict(v) for k, v in ws.deltas.items()},
            ws.cases,
            sorted((f.partition, f.offset) for f in ws.facts),
        )

    one_by_one = [p for p, seq in enumerate(sequences) for _ in seq]
    shuffled = one_by_one[:]
    rng.shuffle(shuffled)
    assert folded(one_by_one) == folded(shuffled)


def apply_or_refuse(ws: WorkingSet, event: Envelope[Any], partition: int, offset: int) -> None:
    with contextlib.suppress(RejectedMessage):
        apply(ws, event, partition, offset)


def test_random_casework_folds_to_the_plain_calculation() -> None:
    councils = [f"C{i:02d}" for i in range(7)]
    events = [council(c, "Unitary") for c in councils] + list(
        random_casework(councils, 5_000, seed=1)
    )
    ws = fold(events)
    expected = {k: {n: v for n, v in d.items() if v} for k, d in expected_figures(events).items()}
    assert figures(ws) == expected
