"""The envelope every event shares, and how to make one."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Generic, TypeVar
from uuid import UUID, uuid4

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from contracts.events import Payload
from contracts.values import CouncilCode, ShortText

P = TypeVar("P", bound=Payload)


class Envelope(BaseModel, Generic[P]):
    """One event: who, what, when, about which council, and the payload."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: UUID = Field(description="Unique per event; a retried publish keeps it.")
    type: str = Field(description="The payload's event type, e.g. DecisionRecorded.")
    schema_version: int = Field(ge=1, description="The payload's schema version.")
    occurred_at: AwareDatetime = Field(description="When it happened, with a UTC offset.")
    producer: ShortText = Field(description="The system that published it.")
    # Left out of the wire when null: what a system reports travels exactly as before.
    actor: ShortText | None = Field(
        default=None,
        exclude_if=lambda v: v is None,
        description="The person who made it, for an action of the office (the workspace's "
        "signed-in user, e.g. `jane.smith@lgo.example`, or `operator:<login>` from the CLI); "
        "null for what a system reports (casework, letters' progress).",
    )
    council: CouncilCode | None = Field(
        description="The council the event concerns: the partition key."
    )
    data: P

    @property
    def key(self) -> bytes | None:
        return self.council.encode() if self.council else None


def new_event(
    payload: P,
    *,
    council: str | None,
    producer: str,
    actor: str | None = None,
    event_id: UUID | None = None,
    occurred_at: datetime | None = None,
) -> Envelope[P]:
    """Wrap a payload, stamping its type and current schema version."""
    if payload.about_a_council and not council:
        raise ValueError(f"{payload.event_type} must name the council it concerns")
    model: type[Envelope[P]] = Envelope[type(payload)]  # type: ignore[misc,assignment]
    return model(
        event_id=event_id or uuid4(),
        type=payload.event_type,
        schema_version=payload.schema_version,
        occurred_at=occurred_at or datetime.now(UTC),
        producer=producer,
        actor=actor,
        council=council,
        data=payload,
    )
