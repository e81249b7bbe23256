"""Re-driving dead letters: publish their original bytes again, after a fix elsewhere (such as
a case's missing decision published), and record that they were re-driven.

A dead letter goes back to the partition it came from, not wherever the CLI's partitioner
would put its key: a case's events belong to one partition (services/domain/casebook.py).

A re-drive never signs what it republishes (the stored bytes are not the office's word, and
the dead letter does not keep the original headers), so it cannot turn a forged close or
register event into an accepted one. It refuses outright a ``not_authorised`` dead letter and
any dead letter of an office event type: the office publishes those again with the CLI,
which signs them (docs/security.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from contracts.codec import Reason
from contracts.events import OFFICE_EVENTS
from services.readmodel import dead_letters
from services.readmodel.store import Conn
from services.readmodel.versions import active_schema


class Written(Protocol):
    """Where the broker wrote a message."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...


class RawPublisher(Protocol):
    """What a re-drive needs of the publisher: send bytes to the facts topic unvalidated."""

    async def publish_raw(
        self,
        value: bytes,
        *,
        key: bytes | None,
        headers: Sequence[tuple[str, bytes]] = (),
        partition: int | None = None,
    ) -> Written: ...


async def redrive(
    conn: Conn, publisher: RawPublisher, ids: list[int], note: str
) -> list[dict[str, Any]]:
    """Each dead letter in its own transaction: locked (it must be open), published again,
    marked re-driven with where it went. They are validated like any new message."""
    schema = await active_schema(conn)
    if schema is None:
        raise LookupError("the read models do not exist yet")
    out = []
    for dead_id in ids:
        async with conn.transaction():
            row = await dead_letters.lock_open(conn, schema, dead_id)
            refused_because = _not_redrivable(row["reason"], row["event_type"])
            if refused_because:
                raise ValueError(f"dead letter {dead_id} cannot be re-driven: {refused_because}")
            position = await publisher.publish_raw(
                bytes(row["value"] or b""),
                key=bytes(row["key"]) if row["key"] else None,
                headers=[
                    ("redriven-from", f"{row['topic']}/{row['partition']}/{row['offset']}".encode())
                ],
                partition=row["partition"],
            )
            await dead_letters.mark_redriven(
                conn,
                schema,
                dead_id,
                f"{note} -> {position.topic}/{position.partition}/{position.offset}",
            )
        out.append(
            {"id": dead_id, "republished_at": position.offset, "partition": position.partition}
        )
    return out


_OFFICE_TYPES = frozenset(t.__name__ for t in OFFICE_EVENTS)


def _not_redrivable(reason: str | None, event_type: str | None) -> str | None:
    """Why a dead letter must not be republished as it is, or None."""
    if reason == Reason.NOT_AUTHORISED:
        return (
            "it is an office event without a valid office signature (not_authorised): only the "
            "office states the close and the register; resolve it (`dlq resolve`)"
        )
    if event_type in _OFFICE_TYPES:
        return (
            f"a {event_type} is the office's, and a re-drive cannot sign it: publish it again "
            "with the CLI (`councils import`, `close-year`), then resolve this one"
        )
    return None
