"""The close with four eyes as a pure state machine: the fold of the audit trail, the
four-eyes rule, the binding that makes a sign-off lapse, reject and withdraw."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from contracts.financial_year import FinancialYear
from services.domain.close_proposal import (
    CLOSED_ALONE,
    FIGURE_COLUMNS,
    LAPSED,
    PROPOSED,
    REJECTED,
    SIGNED_OFF,
    WITHDRAWN,
    Binding,
    CloseRefused,
    Entry,
    Lapse,
    NotYourStep,
    Person,
    SignOff,
    State,
    Terms,
    Trail,
    check_proposal,
    details_of,
    figures_fingerprint,
    fold,
    reject,
    sign_off,
    withdraw,
)

YEAR = FinancialYear(2019)
T0 = datetime(2020, 6, 1, 9, tzinfo=UTC)
AUTHOR = Person("author", "sub-author")
APPROVER = Person("approver", "sub-approver")
APPROVER2 = Person("approver2", "sub-approver2")
TERMS = Terms(YEAR, date(2020, 7, 22), date(2020, 7, 29), "Michael King", ("Ombudsman",), "2020", 1)
ROWS = [
    {"council": "MAN", **dict.fromkeys(["upheld", "not_upheld"], 3)},
    {"council": "ALL", **dict.fromkeys(["upheld", "not_upheld"], 1)},
]


def _rows(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    return [{**dict.fromkeys(FIGURE_COLUMNS, 0), **r} for r in rows]


BINDING = Binding("a" * 64, figures_fingerprint(_rows(ROWS)), 0, 0)


def _entry(
    action: str, actor: str, subject: str | None = "p1", *, minutes: int = 0, **kw: object
) -> Entry:
    return Entry(
        action=action,
        actor=actor,
        at=T0 + timedelta(minutes=minutes),
        year=YEAR,
        subject=subject,
        reason=kw.get("reason"),  # type: ignore[arg-type]
        details=kw.get("details", {}),  # type: ignore[arg-type]
    )


def _proposed(subject: str = "p1") -> Entry:
    return _entry(PROPOSED, AUTHOR.name, subject, details=details_of(TERMS, BINDING, AUTHOR))


def test_a_proposal_round_trips_through_the_trail() -> None:
    trail = fold([_proposed()])
    p = trail.pending(YEAR)
    assert p is not None and p.terms == TERMS and p.binding == BINDING and p.proposer == AUTHOR
    assert p.state is State.PROPOSED


def test_the_proposer_cannot_sign_off_their_own_close() -> None:
    p = fold([_proposed()]).pending(YEAR)
    with pytest.raises(NotYourStep, match="another approver"):
        sign_off(p, Person("author", AUTHOR.subject), BINDING)


def test_another_approver_signs_off_an_unchanged_proposal() -> None:
    p = fold([_proposed()]).pending(YEAR)
    assert sign_off(p, APPROVER2, BINDING) == SignOff(p)  # type: ignore[arg-type]


def test_the_same_display_name_with_another_subject_is_another_person() -> None:
    p = fold([_proposed()]).pending(YEAR)
    assert isinstance(sign_off(p, Person(AUTHOR.name, "someone-else"), BINDING), SignOff)


@pytest.mark.parametrize(
    ("now", "said"),
    [
        (Binding("b" * 64, BINDING.figures_fingerprint, 0, 0), "narrative in force changed"),
        (
            Binding(BINDING.narrative_sha256, figures_fingerprint(_rows(ROWS[:1])), 0, 0),
            "figures changed",
        ),
        (
            Binding(BINDING.narrative_sha256, BINDING.figures_fingerprint, 2, 0),
            "dead letters: 0 then, 2 now",
        ),
        (
            Binding(BINDING.narrative_sha256, BINDING.figures_fingerprint, 0, 5),
            "parked casework events: 0 then, 5 now",
        ),
    ],
)
def test_a_sign_off_lapses_saying_what_changed(now: Binding, said: str) -> None:
    p = fold([_proposed()]).pending(YEAR)
    outcome = sign_off(p, APPROVER, now)
    assert isinstance(outcome, Lapse)
    assert len(outcome.reasons) == 1 and said in outcome.reasons[0]


def test_the_fingerprint_changes_with_any_count_and_not_with_row_order() -> None:
    rows = _rows(ROWS)
    assert figures_fingerprint(rows) == figures_fingerprint(list(reversed(rows)))
    changed = _rows([{**ROWS[0], "satisfactory_remedies": 1}, ROWS[1]])
    assert figures_fingerprint(changed) != figures_fingerprint(rows)
    assert len(figures_fingerprint([])) == 64


@pytest.mark.parametrize(
    ("end", "state"),
    [
        (SIGNED_OFF, State.SIGNED_OFF),
        (REJECTED, State.REJECTED),
        (WITHDRAWN, State.WITHDRAWN),
        (LAPSED, State.LAPSED),
    ],
)
def test_the_fold_ends_a_proposal_once_and_the_first_decision_stands(
    end: str, state: State
) -> None:
    trail = fold(
        [
            _proposed(),
            _entry(end, "approver", minutes=5, reason="r"),
            _entry(SIGNED_OFF, "approver2", minutes=6),
        ]
    )
    p = trail.proposals["p1"]
    assert p.state is state and p.decided_by == "approver" and p.reason == "r"
    assert trail.pending(YEAR) is None


def test_a_step_on_an_ended_proposal_is_refused() -> None:
    trail = fold([_proposed(), _entry(WITHDRAWN, AUTHOR.name, reason="typo")])
    with pytest.raises(CloseRefused, match="withdrawn"):
        sign_off(trail.proposals["p1"], APPROVER, BINDING)
    with pytest.raises(CloseRefused, match="no such proposal"):
        sign_off(None, APPROVER, BINDING)


def test_only_one_proposal_waits_per_year_and_a_closed_year_takes_none() -> None:
    trail = fold([_proposed()])
    with pytest.raises(CloseRefused, match="already waiting"):
        check_proposal(trail, TERMS, year_closed=False)
    with pytest.raises(CloseRefused, match="already closed"):
        check_proposal(Trail(), TERMS, year_closed=True)
    check_proposal(Trail(), TERMS, year_closed=False)


@pytest.mark.parametrize(
    ("letter", "publication", "said"),
    [
        (date(2020, 7, 22), date(2020, 7, 21), "publication date"),
        (date(2020, 3, 31), date(2020, 7, 29), "after the financial year ends"),
    ],
)
def test_a_proposal_with_impossible_dates_is_refused(
    letter: date, publication: date, said: str
) -> None:
    terms = Terms(YEAR, letter, publication, "M", ("O",), "2020", 1)
    with pytest.raises(CloseRefused, match=said):
        check_proposal(Trail(), terms, year_closed=False)


def test_reject_needs_another_person_and_a_reason() -> None:
    p = fold([_proposed()]).pending(YEAR)
    with pytest.raises(CloseRefused, match="withdraw it instead"):
        reject(p, AUTHOR, "no")
    with pytest.raises(CloseRefused, match="give a reason"):
        reject(p, APPROVER, "  ")
    assert reject(p, APPROVER, " figures not checked ") == "figures not checked"


def test_only_the_proposer_withdraws() -> None:
    p = fold([_proposed()]).pending(YEAR)
    with pytest.raises(CloseRefused, match="only author"):
        withdraw(p, APPROVER, "no")
    assert withdraw(p, AUTHOR, "wrong date") == "wrong date"


def test_a_lone_close_is_remembered_and_unreadable_proposals_are_ignored() -> None:
    trail = fold(
        [
            _entry(CLOSED_ALONE, "operator:ops", None),
            _entry(PROPOSED, "x", "p2", details={"a": "b"}),
        ]
    )
    assert YEAR.start_year in trail.closed_alone
    assert trail.proposals == {}


def test_a_year_closed_meanwhile_is_not_closed_again_by_a_sign_off() -> None:
    p = fold([_proposed()]).pending(YEAR)
    with pytest.raises(CloseRefused, match="closed meanwhile"):
        sign_off(p, APPROVER, BINDING, year_closed=True)


def test_a_signatory_longer_than_the_trail_holds_is_refused_before_anything() -> None:
    terms = Terms(YEAR, date(2020, 7, 22), date(2020, 7, 29), "M" * 101, ("O",), "2020", 1)
    with pytest.raises(CloseRefused, match="at most 100 characters"):
        check_proposal(Trail(), terms, year_closed=False)
