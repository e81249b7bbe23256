"""The casebook fold: DOMAIN.md sections 3 and 4, without servers."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

import pytest

from contracts import Envelope, LetterIssued, Reason, RejectedMessage, new_event
from services.domain.casebook import WorkingSet, apply
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


def fold(events: Iterable[Envelope[Any]]) -> WorkingSet:
    ws = WorkingSet(councils={}, cases={})
    for e in events:
        apply(ws, e, partition=0)
    return ws


def figures(ws: WorkingSet) -> dict[tuple[str, int], dict[str, int]]:
    return {k: {n: v for n, v in d.items() if v} for k, d in ws.deltas.items() if any(d.values())}


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
        ([decided("ZZZ", "1", D, "upheld")], Reason.UNKNOWN_COUNCIL, "not registered"),
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
            "no standing decision to correct",
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
            "no standing decision to withdraw",
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


def test_changes_to_a_snapshotted_council_year_are_reported_late() -> None:
    ws = fold([council("AAA", "District")])
    ws.snapshotted.add(("AAA", 2019))
    apply(ws, decided("AAA", "1", D, "upheld"), partition=0)
    apply(ws, decided("AAA", "2", E, "upheld"), partition=0)
    assert [key for _, key in ws.late] == [("AAA", 2019)]


def test_random_casework_folds_to_the_plain_calculation() -> None:
    councils = [f"C{i:02d}" for i in range(7)]
    events = [council(c, "Unitary") for c in councils] + list(
        random_casework(councils, 5_000, seed=1)
    )
    ws = fold(events)
    expected = {k: {n: v for n, v in d.items() if v} for k, d in expected_figures(events).items()}
    assert figures(ws) == expected
