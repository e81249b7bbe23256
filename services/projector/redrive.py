"""Re-driving dead letters: publish their original bytes again, after a fix elsewhere (such as
a case's missing decision published), and record that they were re-driven.

A dead letter goes back to the partition it came from, not wherever the CLI's partitioner
would put its key: a case's events belong to one partition (services/domain/casebook.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

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
