"""The office's decisions on letters and dead letters, each recorded on the audit trail with
the person who took it: the one implementation behind the workspace's pages and the CLI
(``annual-review letters release|resend|confirm-sent|withdraw|reissue``, ``dlq redrive``).

Each function makes its effect with the owning service's own use case (the letters' outbox
through services/letters/operations.py, a dead letter's re-drive through
services/projector/redrive.py), then records the action (services/audit/record.py): after
the effect, so the trail never claims what did not happen. Plain async functions: no web
framework, no terminal.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from types import MappingProxyType
from typing import Any

from contracts.events import OfficeAction
from contracts.financial_year import FinancialYear
from services.audit.record import ActionRecord, Actor, record_action
from services.domain.letter_lifecycle import OPERATOR_COMMANDS, Transition
from services.domain.narrative_book import NarrativeVersion
from services.domain.statistics import AveragingRule
from services.letters import operations
from services.platform.db import Conn
from services.platform.kafka.publisher import EventPublisher
from services.projector.redrive import redrive
from services.readmodel import dead_letters

# Each operator's command on a letter, and what the audit trail calls it.
RECORDED_AS: Mapping[Transition, OfficeAction] = MappingProxyType({
    Transition.RELEASE: OfficeAction.LETTER_RELEASED,
    Transition.RESEND: OfficeAction.LETTER_RESENT,
    Transition.CONFIRM_SENT: OfficeAction.LETTER_CONFIRMED_SENT,
    Transition.WITHDRAW: OfficeAction.LETTER_WITHDRAWN,
})  # fmt: skip
assert set(RECORDED_AS) == set(OPERATOR_COMMANDS), "every operator's command is recorded"


async def decide_letter(
    conn: Conn, publisher: EventPublisher, actor: Actor, command: Transition, council: str,
    year: FinancialYear, reason: str,
    narrative_in_force: operations.NarrativeInForce | None = None,
) -> int:  # fmt: skip
    """Release, resend, confirm-sent or withdraw the council's latest letter for the year
    (refused, changing nothing, where the lifecycle does not allow it); returns its outbox id."""
    command = Transition(command)
    row_id = await operations.move(
        conn, command, council, year, reason, narrative_in_force, by=actor.name
    )
    version = (await operations.get_letter(conn, council, year))["version"]
    await record_action(
        publisher,
        actor,
        ActionRecord(
            RECORDED_AS[command], financial_year=year, council=council,
            subject=f"letter version {version}", reason=reason,
        ),
    )  # fmt: skip
    return row_id


async def reissue_letter(
    conn: Conn, publisher: EventPublisher, actor: Actor, council: str, year: FinancialYear, *,
    reason: str, rule: AveragingRule, message_id_domain: str, letter_date: date | None = None,
    narrative: NarrativeVersion | None = None,
) -> tuple[int, int]:  # fmt: skip
    """A new version of the council's letter from the live figures (operations.reissue);
    returns (outbox id, version)."""
    row_id, version = await operations.reissue(
        conn, council, year, reason=reason, rule=rule, message_id_domain=message_id_domain,
        letter_date=letter_date, narrative=narrative, by=actor.name,
    )  # fmt: skip
    details = {"narrative version": str(narrative.version)} if narrative else {}
    await record_action(
        publisher,
        actor,
        ActionRecord(
            OfficeAction.LETTER_REISSUED, financial_year=year, council=council,
            subject=f"letter version {version}", reason=reason, details=details,
        ),
    )  # fmt: skip
    return row_id, version


async def redrive_dead_letters(
    conn: Conn, publisher: EventPublisher, actor: Actor, ids: list[int], note: str
) -> list[dict[str, Any]]:
    """Publish each dead letter's original again (services/projector/redrive.py), each
    recorded as re-driven by ``actor``. A refusal part-way (one not open, or not re-drivable)
    stops there: those before it are re-driven and recorded, and the error says which."""
    done: list[dict[str, Any]] = []
    try:
        for dead_id in ids:
            # One at a time, so each one re-driven is recorded even if a later one is refused.
            (one,) = await redrive(conn, publisher, [dead_id], note)
            done.append(one)
            await record_action(
                publisher,
                actor,
                ActionRecord(
                    OfficeAction.DEAD_LETTER_REDRIVEN, subject=f"dead letter {dead_id}",
                    reason=note,
                    details={"republished at": f"{one['partition']}@{one['republished_at']}"},
                ),
            )  # fmt: skip
    except (LookupError, ValueError) as e:
        if not done:
            raise
        raise PartlyDone(done, e) from e
    return done


async def resolve_dead_letters(
    conn: Conn, publisher: EventPublisher, actor: Actor, ids: list[int], note: str
) -> int:
    """Close the open ones of ``ids`` (no re-drive needed), recorded as resolved by ``actor``
    with the ids, so that a restore from the log puts the decision back; how many closed."""
    closed = await dead_letters.resolve_dead_letters(conn, ids, note)
    if closed:
        listed = ", ".join(str(i) for i in ids)
        await record_action(
            publisher,
            actor,
            ActionRecord(
                OfficeAction.DEAD_LETTERS_RESOLVED, subject=f"dead letters {listed}",
                reason=note, details={"ids": listed},
            ),
        )  # fmt: skip
    return closed


class PartlyDone(ValueError):
    """Some of the dead letters were re-driven (``done``) before one was refused."""

    def __init__(self, done: list[dict[str, Any]], cause: Exception) -> None:
        self.done = done
        ids = ", ".join(str(d["id"]) for d in done)
        super().__init__(f"{cause} (dead letter(s) {ids} were re-driven before it)")
