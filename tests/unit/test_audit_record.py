"""The audit trail's event: who acted travels in the envelope, and only when someone did."""

from __future__ import annotations

import json

import pytest

from contracts.codec import decode, encode
from contracts.envelope import new_event
from contracts.events import OfficeAction, OfficeActionTaken
from contracts.examples import examples
from services.audit.record import cli_actor
from services.platform.kafka.publisher import EventPublisher


def test_an_event_a_system_reports_has_no_actor_on_the_wire() -> None:
    wire = json.loads(encode(examples()["DecisionRecorded"]))

    assert "actor" not in wire
    assert decode(encode(examples()["DecisionRecorded"])).actor is None


def test_an_office_action_names_its_person_on_the_wire_and_back() -> None:
    event = examples()["OfficeActionTaken"]

    raw = encode(event)

    assert json.loads(raw)["actor"] == "jane.approver@lgo.example"
    assert decode(raw).actor == "jane.approver@lgo.example"


def test_the_cli_acts_as_the_operator_with_its_login() -> None:
    actor = cli_actor()

    assert actor.via == "cli"
    assert actor.name.startswith("operator:")
    assert actor.producer == "annual-review-cli"


async def test_an_action_without_a_person_is_refused_before_it_is_sent() -> None:
    nobody = new_event(
        OfficeActionTaken(action=OfficeAction.PROOFS_MADE, via="cli"),
        council=None,
        producer="annual-review-cli",
    )
    # Never started: the refusal comes before any broker is asked.
    publisher = EventPublisher("127.0.0.1:1")

    with pytest.raises(ValueError, match="name the person"):
        await publisher.publish_action(nobody)


def test_the_dead_letter_decisions_a_restore_puts_back_are_read_from_the_trail() -> None:
    from datetime import UTC, datetime

    from services.audit.trail import AuditEntry, dead_letter_decisions

    at = datetime(2026, 7, 1, tzinfo=UTC)

    def entry(action: str, subject: str | None, **details: str) -> AuditEntry:
        return AuditEntry(1, at, "operator:x", "cli", action, None, None, subject, "why", details)

    trail = [
        entry("dead_letter_redriven", "dead letter 7"),
        entry("dead_letters_resolved", "dead letters 3, 9", ids="3, 9"),
        entry("letter_released", "MAN 2019-20"),  # not a dead letter's
        entry("dead_letter_redriven", "dead letter x"),  # no id: nothing to put back
    ]
    got = [(d.dead_id, d.status, d.note) for d in dead_letter_decisions(trail)]
    assert got == [(7, "redriven", "why"), (3, "resolved", "why"), (9, "resolved", "why")]
