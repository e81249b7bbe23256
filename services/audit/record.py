"""Record an action of the office on the audit trail: the one way every door (the workspace's
pages, the CLI) says who did what (docs/office.md, "Audit").

The action's own effect (a narrative registered, a close, a letter released) is stated by its
own events, published by the use case that makes it; this records the person, the door and
the reason beside it. A use case records its action *after* its effect is in the log or the
database: an audit entry for something that did not happen would be a false record, and a
missing entry is visible (the effect's own event has no action beside it).
"""

from __future__ import annotations

import getpass
from collections.abc import Mapping
from dataclasses import dataclass, field

from contracts.envelope import new_event
from contracts.events import ActionChannel, OfficeAction, OfficeActionTaken
from contracts.financial_year import FinancialYear
from services.platform.kafka.publisher import EventPublisher, Position

PRODUCER_WORKSPACE = "annual-review-office"
PRODUCER_CLI = "annual-review-cli"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts, and through which door: a person signed in to the workspace (their
    provider's user name or e-mail), or the operator at the CLI (their login)."""

    name: str
    via: ActionChannel

    @property
    def producer(self) -> str:
        return PRODUCER_WORKSPACE if self.via == "workspace" else PRODUCER_CLI


def cli_actor() -> Actor:
    """The operator at the terminal: the CLI runs as the operator principal, so the trail says
    so, with the machine login that ran it (docs/office.md, "When the identity provider is
    down")."""
    try:
        login = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (a container's arbitrary uid)
        login = "unknown"
    return Actor(f"operator:{login}", "cli")


@dataclass(frozen=True, slots=True)
class ActionRecord:
    action: OfficeAction
    financial_year: FinancialYear | None = None
    council: str | None = None
    subject: str | None = None
    reason: str | None = None
    details: Mapping[str, str] = field(default_factory=dict)


async def record_action(publisher: EventPublisher, actor: Actor, record: ActionRecord) -> Position:
    """Publish ``record`` as ``actor``'s OfficeActionTaken; its position on the trail."""
    event = new_event(
        OfficeActionTaken(
            action=record.action,
            via=actor.via,
            financial_year=record.financial_year,
            subject=record.subject,
            reason=record.reason,
            details=dict(record.details),
        ),
        council=record.council,
        producer=actor.producer,
        actor=actor.name,
    )
    return await publisher.publish_action(event)
