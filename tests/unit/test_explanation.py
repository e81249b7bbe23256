"""The explanation of a council-year's figures (services/domain/explanation.py), from the
histories the fold writes: what counts, what does not and why, the late events."""

from __future__ import annotations

from datetime import date
from typing import Any

from contracts.financial_year import FinancialYear
from services.domain.explanation import (
    AFTER_THE_CUT,
    CONFLICT,
    DEAD_LETTERED,
    NOT_AN_INVESTIGATION,
    OUTSIDE_YEAR,
    PARKED,
    STATISTICS,
    WITHDRAWN,
    Refusal,
    as_dict,
    explain,
)
from tests.support.casework import (
    complied,
    corrected,
    council,
    decided,
    expected_figures,
    history,
    random_casework,
    withdrawn,
)

Y = FinancialYear(2019)
D, E = date(2019, 6, 1), date(2020, 6, 1)


def refs(x: Any, stat: str) -> list[str]:
    return [m.state.case_reference for m in x.figure(stat).members]


def reasons(x: Any, stat: str) -> dict[str | None, str]:
    return {o.case_reference: o.reason for o in x.figure(stat).left_out}


def test_the_fold_writes_each_event_with_its_position_and_the_case_after_it() -> None:
    lines = history(
        [
            council("AAA", "District"),
            decided("AAA", "1", D, "upheld", remedy=True),
            corrected("AAA", "1", D, "not_upheld"),
            withdrawn("AAA", "1", E),
        ],
        partition=3,
    )
    assert [(e.event_type, e.partition, e.offset) for e in lines] == [
        ("DecisionRecorded", 3, 1), ("DecisionCorrected", 3, 2), ("DecisionWithdrawn", 3, 3),
    ]  # fmt: skip
    assert [(e.outcome, e.satisfactory_remedy, e.withdrawn) for e in lines] == [
        ("upheld", True, False), ("not_upheld", False, False), ("not_upheld", False, True),
    ]  # fmt: skip
    # A withdrawal keeps the withdrawn decision's date and year: it is explained in that year.
    assert lines[2].decision_date == D and lines[2].financial_year == 2019


def test_counted_and_not_counted_cases_each_with_the_reason() -> None:
    lines = history(
        [
            council("AAA", "District"),
            decided("AAA", "up", D, "upheld", remedy=True),
            decided("AAA", "no", D, "not_upheld"),
            decided("AAA", "adv", D, "advice_given"),
            decided("AAA", "gone", D, "upheld"),
            withdrawn("AAA", "gone", D),
            decided("AAA", "moved", D, "upheld"),
            corrected("AAA", "moved", E, "upheld"),
            complied("AAA", "up", D, implemented=True),
            complied("AAA", "no", D, implemented=False),
        ]
    )
    refused = Refusal(9, 4, "e1", "DecisionRecorded", "dup", "conflict", "already decided", "open")
    x = explain("AAA", Y, lines, refusals=[refused])
    assert refs(x, "investigations") == ["no", "up"]
    assert refs(x, "upheld") == ["up"] and refs(x, "satisfactory_remedies") == ["up"]
    assert refs(x, "advice_given") == ["adv"]
    assert reasons(x, "investigations") == {
        "adv": NOT_AN_INVESTIGATION, "gone": WITHDRAWN, "moved": OUTSIDE_YEAR, "dup": CONFLICT,
    }  # fmt: skip
    assert x.figure("compliance_outcomes").live == 2
    assert x.figure("compliance_implemented").live == 1
    # Not cut: the figures are the live ones, and nothing is late.
    assert x.figure("upheld").letter is None and x.late == ()


def test_the_live_figures_equal_the_fold_for_random_casework() -> None:
    events = [council(c, "District") for c in ("AAA", "BBB")]
    events += list(random_casework(["AAA", "BBB"], 400, seed=7))
    lines = history(events)
    expected = expected_figures(events)
    for code in ("AAA", "BBB"):
        for y in (2019, 2020):
            x = explain(code, FinancialYear(y), lines)
            want = expected.get((code, y), {})
            for stat in STATISTICS:
                if stat == "investigations":
                    n = want.get("upheld", 0) + want.get("not_upheld", 0)
                else:
                    n = want.get(stat, 0)
                assert x.figure(stat).live == n, (code, y, stat)
                assert len(x.figure(stat).members) == n


def test_at_the_cut_the_letter_counts_and_late_events_show_what_they_changed() -> None:
    lines = history(
        [
            council("AAA", "District"),
            decided("AAA", "a", D, "upheld"),
            decided("AAA", "b", D, "not_upheld"),
            # the cut is here, at offset 3
            corrected("AAA", "a", D, "not_upheld"),
            decided("AAA", "c", D, "upheld"),
            withdrawn("AAA", "b", D),
        ]
    )
    letter = dict.fromkeys(
        ("upheld", "not_upheld", "advice_given", "closed_after_initial_enquiries",
         "incomplete_or_invalid", "referred_back_for_local_resolution",
         "satisfactory_remedies", "compliance_outcomes", "compliance_implemented"), 0,
    )  # fmt: skip
    letter |= {"upheld": 1, "not_upheld": 1}
    x = explain("AAA", Y, lines, cuts={0: 3}, letter_counts=letter)
    up = x.figure("upheld")
    assert (up.letter, up.letter_from_cases, up.live) == (1, 1, 1)
    assert refs(x, "upheld") == ["a"] and reasons(x, "upheld")["c"] == AFTER_THE_CUT
    assert x.figure("investigations").letter == 2 and x.figure("investigations").live == 2
    assert all(f.consistent for f in x.figures)
    late = [(c.event.case_reference, c.changes, c.effect) for c in x.late]
    assert late == [
        ("a", ("outcome upheld -> not_upheld",), {"upheld": -1, "not_upheld": 1}),
        ("c", (f"decision recorded: upheld, decided on {D} (2019-20)",),
         {"investigations": 1, "upheld": 1}),
        ("b", ("decision withdrawn",), {"investigations": -1, "not_upheld": -1}),
    ]  # fmt: skip


def test_a_letter_figure_the_cases_do_not_add_up_to_is_flagged() -> None:
    lines = history([council("AAA", "District"), decided("AAA", "a", D, "upheld")])
    letter = dict.fromkeys(STATISTICS[1:], 0) | {"upheld": 2}
    x = explain("AAA", Y, lines, cuts={0: 10}, letter_counts=letter)
    assert not x.figure("upheld").consistent and x.figure("not_upheld").consistent


def test_parked_and_dead_lettered_events_are_left_out_with_their_reason() -> None:
    lines = history([council("AAA", "District"), decided("AAA", "p", D, "upheld")])
    bad = Refusal(1, 7, None, "ComplianceOutcomeRecorded", "q", "invalid", "bad date", "open")
    x = explain("AAA", Y, lines, parked=[lines[0].event_id], refusals=[bad])
    assert reasons(x, "upheld") == {"p": PARKED}
    assert x.figure("upheld").live == 0
    # A refused compliance outcome is left out of the compliance statistics only.
    assert reasons(x, "compliance_outcomes") == {"q": DEAD_LETTERED}


def test_the_json_names_every_statistic_and_each_event_position() -> None:
    lines = history([council("AAA", "District"), decided("AAA", "a", D, "upheld")], partition=2)
    d = as_dict(explain("AAA", Y, lines, cuts={2: 5}))
    assert [s["statistic"] for s in d["statistics"]] == list(STATISTICS)
    case = d["statistics"][1]["cases"][0]
    assert case["case_reference"] == "a" and case["decision_date"] == "2019-06-01"
    (line,) = d["cases"]["a"]
    assert line["partition"] == 2 and line["offset"] == 1
    assert line["changes"][0].startswith("decision recorded: upheld")


def test_the_state_at_any_cut_read_from_the_history_is_the_fold_of_the_log_before_it() -> None:
    # Why the projector keeps no second table of "cases at the cut": the last history line
    # before a cut's offset gives exactly the figures of the log folded up to the cut, for
    # any cut (the snapshot is that fold: docs/architecture.md, "Explaining a figure").
    events = [council(c, "District") for c in ("AAA", "BBB")]
    events += list(random_casework(["AAA", "BBB"], 400, seed=11))
    lines = history(events)
    for cut in (2, 57, 190, 333, len(events)):
        before = expected_figures(events[:cut])
        for code in ("AAA", "BBB"):
            for y in (2019, 2020):
                counts = before.get((code, y), {})
                letter = {s: counts.get(s, 0) for s in STATISTICS if s != "investigations"}
                x = explain(code, FinancialYear(y), lines, cuts={0: cut}, letter_counts=letter)
                assert all(f.consistent for f in x.figures), (cut, code, y)
                assert [f.letter_from_cases for f in x.figures] == [f.letter for f in x.figures]
