"""A letter's life, from the close to the SMTP server's answer: its states and every move
between them, in one table.

The rule that matters most is that a letter is never sent twice: a letter missing is
recoverable (an operator resends it), a letter sent twice is not. The table keeps it:

- ``sent`` is final. A correction is a new letter (a re-issue: the next version, with its
  own Message-ID), never a second send of this one.
- only a claim starts a send (``rendered`` -> ``sending``), committed before the SMTP
  conversation, so after a crash what is in ``sending`` is exactly what may have gone.
- a letter leaves ``sending`` only with an answer: the SMTP server's (accepted, refused for
  now, refused for good) or the archive mailbox's (found, not found); with none it becomes
  ``uncertain``, and only an operator moves it from there, as only an operator releases a
  ``held`` letter.
- a letter that must never go is ``withdrawn``, with a reason, and only from ``held``: a held
  letter has not been rendered nor claimed, so nothing of it can have reached anyone (a
  council registered after a close without a start date gets a held letter for every earlier
  closed year: those are withdrawn). A letter further on is either on its way (pending,
  rendered, sending), or its outcome is known (sent, failed, uncertain): withdrawing it would
  hide a letter that went, or may have. ``withdrawn`` is final, like ``sent``; a re-issue can
  still make a new version later.

Pure: no I/O. The outbox (services/letters/outbox.py) writes what is decided here; the
outbox table's CHECK constraint lists the same states (tests/integration/
test_letter_states.py reads it from PostgreSQL and compares).

"Refuse early, fail loudly": a letter that cannot be rendered for a reason no retry fixes
(no narrative, a letter year without a format, figures that cannot be right) goes
``pending`` -> ``failed`` with that reason (``RENDER_REFUSED``), never round a retry loop;
once fixed, an operator's resend of a failed letter that holds no rendering renders it
again (``RERENDER``). In the same way a claimed letter the service will not send (no TLS
where it is required, a certificate not verified, a login refused, a message that cannot be
built) goes ``sending`` -> ``failed`` (``CANNOT_SEND``) with what to fix, then a resend.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType


class LetterState(StrEnum):
    """Where a letter is. The values are what the outbox table stores."""

    HELD = "held"  # waiting for an operator: its council-year has open dead letters
    PENDING = "pending"  # to be rendered
    RENDERED = "rendered"  # text, HTML and PDF stored: ready to send, or to retry
    SENDING = "sending"  # claimed by a sender: the SMTP conversation may be under way
    SENT = "sent"  # the SMTP server accepted it
    FAILED = "failed"  # refused for good, or out of attempts: an operator may resend
    UNCERTAIN = "uncertain"  # a sender stopped mid-send and nothing could tell if it went
    WITHDRAWN = "withdrawn"  # an operator decided a held letter must never go (final)


class Transition(StrEnum):
    """A named move. The operator's commands carry the names the CLI uses."""

    # A new letter (a version of a council's letter for a year): there is no state before.
    QUEUE = "queue"
    HOLD = "hold"
    REISSUE = "reissue"
    # The letter service.
    RENDER = "render"
    RENDER_REFUSED = "render-refused"
    CLAIM = "claim"
    ACCEPTED = "accepted"
    RETRY = "retry"
    REFUSED = "refused"
    CANNOT_SEND = "cannot-send"
    FOUND_IN_ARCHIVE = "found-in-archive"
    NOT_IN_ARCHIVE = "not-in-archive"
    NO_ARCHIVE = "no-archive"
    UNSETTLED_AFTER_RESTORE = "unsettled-after-restore"
    # An operator.
    RELEASE = "release"
    RESEND = "resend"
    RERENDER = "rerender"
    CONFIRM_SENT = "confirm-sent"
    WITHDRAW = "withdraw"


@dataclass(frozen=True, slots=True)
class Move:
    sources: frozenset[LetterState]  # empty: the transition makes a new letter
    target: LetterState
    by_operator: bool
    why: str

    @property
    def creates(self) -> bool:
        return not self.sources


def _move(sources: str, target: LetterState, why: str, *, operator: bool = False) -> Move:
    return Move(frozenset(LetterState(s) for s in sources.split()), target, operator, why)


S = LetterState
T = Transition
TRANSITIONS: Mapping[Transition, Move] = MappingProxyType({
    T.QUEUE: _move("", S.PENDING, "a close queues the council's letter"),
    T.HOLD: _move("", S.HELD, "a close finds open dead letters for the council-year"),
    T.REISSUE: _move("", S.PENDING, "a new version from the live figures", operator=True),
    T.RENDER: _move("pending", S.RENDERED, "text, HTML and PDF rendered and stored"),
    T.RENDER_REFUSED: _move("pending", S.FAILED, "cannot be rendered, for a reason no retry fixes"),
    T.CLAIM: _move("rendered", S.SENDING, "a sender takes it, before the SMTP conversation"),
    T.ACCEPTED: _move("sending", S.SENT, "the SMTP server accepted it"),
    T.RETRY: _move("sending", S.RENDERED, "the SMTP server refused it for now: try later"),
    T.REFUSED: _move("sending", S.FAILED, "refused for good, or out of attempts"),
    T.CANNOT_SEND: _move("sending", S.FAILED, "not sent: cannot be sent safely as configured "
                         "(TLS, certificate, login) or the message cannot be built"),
    T.FOUND_IN_ARCHIVE: _move("sending", S.SENT, "after a crash: the archive has it"),
    T.NOT_IN_ARCHIVE: _move("sending", S.RENDERED, "after a crash: the archive has not"),
    T.NO_ARCHIVE: _move("sending", S.UNCERTAIN, "after a crash, with no archive to ask"),
    T.UNSETTLED_AFTER_RESTORE: _move("sending", S.UNCERTAIN, "after a restore of the database: "
                                     "the log has its claim but no answer from a mail server"),
    T.RELEASE: _move("held", S.PENDING, "the dead letters were dealt with", operator=True),
    T.RESEND: _move("failed uncertain", S.RENDERED, "try the SMTP server again", operator=True),
    T.RERENDER: _move("failed", S.PENDING, "a resend of a letter never rendered", operator=True),
    T.CONFIRM_SENT: _move("uncertain", S.SENT, "the operator checked: it went", operator=True),
    T.WITHDRAW: _move("held", S.WITHDRAWN, "it must never go: nothing of it was sent",
                      operator=True),
})  # fmt: skip

# The operator's commands on an existing letter (a re-issue makes a new one), and the
# transitions each may make.
OPERATOR_COMMANDS: Mapping[Transition, tuple[Transition, ...]] = MappingProxyType({
    T.RELEASE: (T.RELEASE,),
    T.RESEND: (T.RESEND, T.RERENDER),
    T.CONFIRM_SENT: (T.CONFIRM_SENT,),
    T.WITHDRAW: (T.WITHDRAW,),
})  # fmt: skip


class TransitionRefused(ValueError):
    def __init__(self, transition: Transition, state: LetterState | None) -> None:
        self.transition = transition
        self.state = state
        self.allowed = TRANSITIONS[transition].sources
        super().__init__(
            f"{transition} does not apply to a letter that is {state or 'not there yet'}"
        )


def target(transition: Transition) -> LetterState:
    return TRANSITIONS[transition].target


def allows(transition: Transition, state: LetterState | None) -> bool:
    """Whether ``transition`` may move a letter in ``state`` (None: no letter yet)."""
    move = TRANSITIONS[transition]
    return state is None if move.creates else state in move.sources


def next_state(transition: Transition, state: LetterState | None) -> LetterState:
    """The state ``transition`` moves a letter in ``state`` to; refused if it may not."""
    if not allows(transition, state):
        raise TransitionRefused(transition, state)
    return target(transition)


# --- which transition applies: the decisions the letter service and the operator make ----


def on_close(*, held: bool) -> Transition:
    """A close queues every council's letter, holding those with open dead letters."""
    return T.HOLD if held else T.QUEUE


def after_failed_send(*, permanent: bool, attempts: int, max_attempts: int) -> Transition:
    """The SMTP server refused a letter; ``attempts`` counts the sends tried before this one."""
    return T.REFUSED if permanent or attempts + 1 >= max_attempts else T.RETRY


def after_restart(in_archive: bool | None) -> Transition:
    """A letter a dead sender left in ``sending``; ``in_archive`` is None with no archive."""
    if in_archive is None:
        return T.NO_ARCHIVE
    return T.FOUND_IN_ARCHIVE if in_archive else T.NOT_IN_ARCHIVE


def applies_to(command: Transition) -> frozenset[LetterState]:
    """The states an operator's command moves a letter from."""
    return frozenset().union(*(TRANSITIONS[t].sources for t in OPERATOR_COMMANDS[command]))


def operator_command(command: Transition, *, rendered: bool) -> Transition:
    """The transition an operator's command makes on a letter (``rendered``: it holds its
    text, HTML and PDF): a resend of a letter that was never rendered renders it first."""
    command = Transition(command)
    if command not in OPERATOR_COMMANDS:
        raise ValueError(f"{command} is not an operator's command on a letter")
    return T.RERENDER if command is T.RESEND and not rendered else command
