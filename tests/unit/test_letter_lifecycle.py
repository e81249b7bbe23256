"""The letter lifecycle: no path sends a letter twice, and every state can be reached."""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.domain.letter_lifecycle import (
    OPERATOR_COMMANDS,
    TRANSITIONS,
    LetterState,
    Transition,
    TransitionRefused,
    after_failed_send,
    after_restart,
    allows,
    applies_to,
    next_state,
    on_close,
    operator_command,
    target,
)

S, T = LetterState, Transition
CREATIONS = [t for t, m in TRANSITIONS.items() if m.creates]


def reachable(start: LetterState, via: Iterable[Transition]) -> set[LetterState]:
    """Every state a letter in ``start`` can reach using only the transitions ``via``."""
    allowed = set(via)
    seen, todo = {start}, deque([start])
    while todo:
        state = todo.popleft()
        for t in allowed:
            if allows(t, state) and target(t) not in seen:
                seen.add(target(t))
                todo.append(target(t))
    return seen


NOT_BY_OPERATOR = [t for t, m in TRANSITIONS.items() if not m.by_operator]


def test_every_transition_is_in_the_table() -> None:
    assert set(TRANSITIONS) == set(Transition)


def test_sent_is_final_so_nothing_leads_from_sent_back_to_sending() -> None:
    assert [t for t in Transition if allows(t, S.SENT)] == []
    assert reachable(S.SENT, Transition) == {S.SENT}


def test_only_a_claim_of_a_rendered_letter_starts_a_send() -> None:
    into_sending = {t: m.sources for t, m in TRANSITIONS.items() if m.target is S.SENDING}

    assert into_sending == {T.CLAIM: frozenset({S.RENDERED})}


def test_a_letter_leaves_sending_only_with_an_answer() -> None:
    """The SMTP server's, the archive's, or the service's own refusal to send it (the
    settings forbid it, or the message cannot be built: CANNOT_SEND, before any byte of it
    went)."""
    out_of_sending = {t: target(t) for t in Transition if allows(t, S.SENDING)}

    assert out_of_sending == {
        T.ACCEPTED: S.SENT,
        T.RETRY: S.RENDERED,
        T.REFUSED: S.FAILED,
        T.CANNOT_SEND: S.FAILED,
        T.FOUND_IN_ARCHIVE: S.SENT,
        T.NOT_IN_ARCHIVE: S.RENDERED,
        T.NO_ARCHIVE: S.UNCERTAIN,
        # After a restore of the database the log had the claim but no answer: only an
        # operator moves it on (services/letters/restore.py).
        T.UNSETTLED_AFTER_RESTORE: S.UNCERTAIN,
    }


@pytest.mark.parametrize("waiting", [S.UNCERTAIN, S.HELD, S.FAILED])
def test_an_uncertain_held_or_failed_letter_moves_only_by_an_operator(
    waiting: LetterState,
) -> None:
    assert reachable(waiting, NOT_BY_OPERATOR) == {waiting}


def test_every_state_is_reached_from_a_new_letter() -> None:
    reached = set().union(*(reachable(target(t), Transition) for t in CREATIONS))

    assert reached == set(LetterState)
    assert {target(t) for t in CREATIONS} == {S.HELD, S.PENDING}


def test_transitions_that_make_a_letter_need_none_and_the_others_need_one() -> None:
    for t, move in TRANSITIONS.items():
        assert allows(t, None) is move.creates
        assert move.target not in move.sources


def test_the_operator_makes_exactly_the_commands_of_the_cli() -> None:
    by_operator = {t for t, m in TRANSITIONS.items() if m.by_operator}

    assert by_operator == {
        T.RELEASE, T.RESEND, T.RERENDER, T.CONFIRM_SENT, T.REISSUE, T.WITHDRAW,
    }  # fmt: skip
    assert [str(c) for c in OPERATOR_COMMANDS] == [
        "release", "resend", "confirm-sent", "withdraw",
    ]  # fmt: skip
    assert {t for ts in OPERATOR_COMMANDS.values() for t in ts} == by_operator - {T.REISSUE}


def test_an_operator_command_names_every_state_it_applies_to() -> None:
    assert applies_to(T.RELEASE) == {S.HELD}
    assert applies_to(T.RESEND) == {S.FAILED, S.UNCERTAIN}
    assert applies_to(T.CONFIRM_SENT) == {S.UNCERTAIN}
    assert applies_to(T.WITHDRAW) == {S.HELD}


def test_only_a_held_letter_can_be_withdrawn_and_a_withdrawn_one_never_moves_again() -> None:
    """Held: never rendered nor claimed, so nothing of it reached anyone. Withdrawing any
    later state could hide a letter that went, or may have."""
    assert {s for s in LetterState if allows(T.WITHDRAW, s)} == {S.HELD}
    assert [t for t in Transition if allows(t, S.WITHDRAWN)] == []
    assert reachable(S.WITHDRAWN, Transition) == {S.WITHDRAWN}


def test_a_refused_transition_says_what_it_applies_to() -> None:
    with pytest.raises(TransitionRefused, match="release does not apply to a letter that is sent"):
        next_state(T.RELEASE, S.SENT)
    with pytest.raises(TransitionRefused) as refused:
        next_state(T.RESEND, S.PENDING)
    assert refused.value.allowed == {S.FAILED, S.UNCERTAIN}
    assert next_state(T.RELEASE, S.HELD) is S.PENDING


def test_the_state_values_are_what_the_outbox_stores() -> None:
    # The values are in letters/0004's CHECK constraint and in every stored row.
    assert [str(s) for s in LetterState] == [
        "held", "pending", "rendered", "sending", "sent", "failed", "uncertain", "withdrawn",
    ]  # fmt: skip


# --- walks: any sequence of allowed transitions ---------------------------------------------

# A send may start again only after something said the letter did not go: the SMTP server
# (refused for now), the archive (not there) or an operator (resend, re-render).
SAID_IT_DID_NOT_GO = {T.RETRY, T.NOT_IN_ARCHIVE, T.RESEND, T.RERENDER}


@st.composite
def walks(draw: st.DrawFn) -> list[tuple[Transition, LetterState]]:
    """A letter's life: a creation, then transitions each allowed in the state it is in."""
    first = draw(st.sampled_from(CREATIONS))
    state = target(first)
    walk = [(first, state)]
    for _ in range(draw(st.integers(0, 40))):
        possible = sorted(t for t in Transition if allows(t, state))
        if not possible:
            break
        t = draw(st.sampled_from(possible))
        state = next_state(t, state)
        walk.append((t, state))
    return walk


@given(walks())
def test_no_walk_sends_a_letter_twice(walk: list[tuple[Transition, LetterState]]) -> None:
    states = [s for _, s in walk]
    assert states.count(S.SENT) <= 1
    if S.SENT in states:
        assert states[-1] is S.SENT
    claims = [i for i, (t, _) in enumerate(walk) if t is T.CLAIM]
    for previous, following in itertools.pairwise(claims):
        between = {t for t, _ in walk[previous + 1 : following]}
        assert between & SAID_IT_DID_NOT_GO, walk


@given(walks())
def test_a_withdrawn_letter_was_never_claimed(
    walk: list[tuple[Transition, LetterState]],
) -> None:
    if walk[-1][1] is S.WITHDRAWN:
        assert [t for t, _ in walk] == [T.HOLD, T.WITHDRAW]


@given(walks())
def test_a_held_letter_is_sent_only_after_an_operator_released_it(
    walk: list[tuple[Transition, LetterState]],
) -> None:
    if walk[0][0] is T.HOLD and any(t is T.CLAIM for t, _ in walk):
        first_claim = next(i for i, (t, _) in enumerate(walk) if t is T.CLAIM)
        assert T.RELEASE in {t for t, _ in walk[:first_claim]}


# --- the decisions ------------------------------------------------------------------------


def test_a_close_holds_the_letters_with_open_dead_letters() -> None:
    assert target(on_close(held=True)) is S.HELD
    assert target(on_close(held=False)) is S.PENDING


@given(permanent=st.booleans(), attempts=st.integers(0, 20), max_attempts=st.integers(1, 20))
def test_a_failed_send_is_retried_until_refused_for_good_or_out_of_attempts(
    permanent: bool, attempts: int, max_attempts: int
) -> None:
    how = after_failed_send(permanent=permanent, attempts=attempts, max_attempts=max_attempts)

    assert allows(how, S.SENDING)
    assert (how is T.REFUSED) == (permanent or attempts + 1 >= max_attempts)
    assert how in {T.REFUSED, T.RETRY}


def test_a_letter_found_after_a_restart_is_sent_and_one_not_found_is_sent_again() -> None:
    assert after_restart(True) is T.FOUND_IN_ARCHIVE and target(T.FOUND_IN_ARCHIVE) is S.SENT
    assert after_restart(False) is T.NOT_IN_ARCHIVE and target(T.NOT_IN_ARCHIVE) is S.RENDERED
    assert after_restart(None) is T.NO_ARCHIVE and target(T.NO_ARCHIVE) is S.UNCERTAIN


@given(command=st.sampled_from(list(OPERATOR_COMMANDS)), rendered=st.booleans())
def test_an_operator_command_is_its_transition_except_a_resend_of_an_unrendered_letter(
    command: Transition, rendered: bool
) -> None:
    how = operator_command(command, rendered=rendered)

    if command is T.RESEND and not rendered:
        assert how is T.RERENDER and target(how) is S.PENDING
    else:
        assert how is command
    assert how in OPERATOR_COMMANDS[command]


def test_an_operator_command_is_also_accepted_by_its_cli_name() -> None:
    assert operator_command("release", rendered=True) is T.RELEASE  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="claim is not an operator's command"):
        operator_command(T.CLAIM, rendered=True)
