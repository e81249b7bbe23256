"""The office's decisions on letters and dead letters record the person after the effect, and
a refused decision records nothing (services/office/letter_actions.py)."""

from __future__ import annotations

from typing import Any, cast

import pytest

from contracts.envelope import Envelope
from contracts.events import OfficeAction, OfficeActionTaken
from contracts.financial_year import FinancialYear
from services.audit.record import Actor
from services.domain.letter_lifecycle import OPERATOR_COMMANDS, Transition
from services.letters import operations
from services.office import letter_actions
from services.platform.kafka.publisher import EventPublisher, Position

YEAR = FinancialYear(2019)
ANNE = Actor("Anne Approver", "workspace")
NO_DB: Any = None  # the use cases' effects are replaced here: no connection is used


def on(trail: Trail) -> EventPublisher:
    return cast(EventPublisher, trail)


class Trail:
    """A publisher that keeps the actions it is given, and what happened before each."""

    def __init__(self, log: list[str]) -> None:
        self.log = log
        self.actions: list[Envelope[OfficeActionTaken]] = []

    async def publish_action(self, event: Envelope[OfficeActionTaken]) -> Position:
        self.log.append(f"recorded {event.data.action}")
        self.actions.append(event)
        return Position("annual-review.office-actions", 0, len(self.actions) - 1)


@pytest.fixture
def log() -> list[str]:
    return []


@pytest.fixture
def trail(log: list[str]) -> Trail:
    return Trail(log)


def test_every_operators_command_on_a_letter_has_its_audit_action() -> None:
    assert set(letter_actions.RECORDED_AS) == set(OPERATOR_COMMANDS)
    assert letter_actions.RECORDED_AS[Transition.WITHDRAW] is OfficeAction.LETTER_WITHDRAWN


async def test_a_withdrawal_is_recorded_with_the_person_after_it_is_made(
    monkeypatch: pytest.MonkeyPatch, log: list[str], trail: Trail
) -> None:
    async def move(conn: Any, command: Transition, council: str, *args: Any, by: str) -> int:
        log.append(f"moved {council} {command} by {by}")
        return 7

    async def get_letter(conn: Any, council: str, year: FinancialYear) -> dict[str, int]:
        return {"version": 2}

    monkeypatch.setattr(operations, "move", move)
    monkeypatch.setattr(operations, "get_letter", get_letter)

    row = await letter_actions.decide_letter(
        NO_DB,
        on(trail),
        ANNE,
        Transition.WITHDRAW,
        "OL03",
        YEAR,
        "did not exist",
    )

    assert row == 7
    # The letter's own record names the person too (its LetterStateChanged on the log).
    assert log == ["moved OL03 withdraw by Anne Approver", "recorded letter_withdrawn"]
    (event,) = trail.actions
    assert (event.actor, event.council, event.producer) == (
        "Anne Approver", "OL03", "annual-review-office",
    )  # fmt: skip
    assert event.data.reason == "did not exist" and event.data.subject == "letter version 2"
    assert event.data.financial_year == YEAR and event.data.via == "workspace"


async def test_a_refused_decision_records_nothing(
    monkeypatch: pytest.MonkeyPatch, trail: Trail
) -> None:
    async def move(*args: Any, **kwargs: Any) -> int:
        raise ValueError("the OL01 2019-20 letter is 'sent'; withdraw applies to 'held'")

    monkeypatch.setattr(operations, "move", move)

    with pytest.raises(ValueError, match="withdraw applies to 'held'"):
        await letter_actions.decide_letter(
            NO_DB,
            on(trail),
            ANNE,
            Transition.WITHDRAW,
            "OL01",
            YEAR,
            "x",
        )
    assert trail.actions == []


async def test_a_set_refused_part_way_keeps_and_records_those_before_and_says_which(
    monkeypatch: pytest.MonkeyPatch, log: list[str], trail: Trail
) -> None:
    async def redrive(conn: Any, publisher: Any, ids: list[int], note: str) -> list[Any]:
        (dead_id,) = ids
        if dead_id == 3:
            raise ValueError("dead letter 3 is redriven, not open")
        log.append(f"redriven {dead_id}")
        return [{"id": dead_id, "partition": 1, "republished_at": 40 + dead_id}]

    monkeypatch.setattr(letter_actions, "redrive", redrive)
    officer = Actor("Dev Data-Officer", "workspace")

    with pytest.raises(letter_actions.PartlyDone) as refused:
        await letter_actions.redrive_dead_letters(NO_DB, on(trail), officer, [1, 2, 3, 4], "fixed")

    assert [d["id"] for d in refused.value.done] == [1, 2]
    assert "dead letter(s) 1, 2 were re-driven before it" in str(refused.value)
    assert log == [
        "redriven 1", "recorded dead_letter_redriven", "redriven 2",
        "recorded dead_letter_redriven",
    ]  # fmt: skip
    assert [e.data.subject for e in trail.actions] == ["dead letter 1", "dead letter 2"]
    assert all(e.actor == "Dev Data-Officer" for e in trail.actions)


async def test_a_set_refused_at_its_first_dead_letter_is_a_plain_refusal(
    monkeypatch: pytest.MonkeyPatch, trail: Trail
) -> None:
    async def redrive(*args: Any) -> list[Any]:
        raise LookupError("no dead letter 9")

    monkeypatch.setattr(letter_actions, "redrive", redrive)

    with pytest.raises(LookupError, match="no dead letter 9"):
        await letter_actions.redrive_dead_letters(NO_DB, on(trail), ANNE, [9], "fixed")
    assert trail.actions == []
