"""The dead letters: stored by the projector's batch, seen and decided on by an operator
(list, re-drive, resolve); and the parked events listed beside them.

Operators' decisions (re-drive, resolve) are recorded on the office's audit trail, not in the
read model's log: a rebuild carries them over to the new version, a restore from the log puts
them back from the trail (``apply_decision``).
Parked events (of councils not registered yet) are no operator's to decide: they apply
themselves when their council is registered, and are listed so they never wait unseen.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from services.platform.db import Conn
from services.readmodel.versions import active_schema


async def list_dead_letters(
    conn: Conn, *, state: str | None = "open", limit: int = 100,
    reason: str | None = None, council: str | None = None, financial_year: int | None = None,
) -> list[dict[str, Any]]:  # fmt: skip
    """Dead letters in ``state`` (None: every state), oldest first; optionally only those of
    one reason, council and financial year (its start year)."""
    rows = await conn.fetch(
        'SELECT id, topic, partition, "offset", reason, detail, event_id, event_type, council, '
        "financial_year, status, status_note, received_at FROM readmodel.dead_letters "
        "WHERE ($1::text IS NULL OR status = $1) AND ($3::text IS NULL OR reason = $3) "
        "AND ($4::text IS NULL OR council = $4) AND ($5::int IS NULL OR financial_year = $5) "
        "ORDER BY id LIMIT $2",
        state,
        limit,
        reason,
        council,
        financial_year,
    )
    return [dict(r) for r in rows]


async def dead_letter(conn: Conn, dead_id: int) -> dict[str, Any] | None:
    """One dead letter, whole: its record and the message's key and bytes as refused."""
    row = await conn.fetchrow("SELECT * FROM readmodel.dead_letters WHERE id = $1", dead_id)
    return None if row is None else dict(row)


async def dead_letter_reasons(conn: Conn) -> list[str]:
    """The reasons dead letters were refused for (for a filter's choices)."""
    rows = await conn.fetch("SELECT DISTINCT reason FROM readmodel.dead_letters ORDER BY reason")
    return [r["reason"] for r in rows]


async def list_parked(conn: Conn, *, limit: int = 100) -> list[dict[str, Any]]:
    """Parked events, oldest first, shaped like dead letters (state ``parked``, no id)."""
    rows = await conn.fetch(
        'SELECT partition, "offset", event_id, event_type, council, financial_year, parked_at '
        'FROM readmodel.parked_events ORDER BY parked_at, partition, "offset" LIMIT $1',
        limit,
    )
    return [
        {
            "id": None,
            "partition": r["partition"],
            "offset": r["offset"],
            "reason": "parked",
            "detail": f"council {r['council']} is not registered: this event applies when a "
            f"CouncilRegistered for {r['council']} is published (`annual-review councils "
            f"import`)",
            "event_id": str(r["event_id"]),
            "event_type": r["event_type"],
            "council": r["council"],
            "financial_year": r["financial_year"],
            "status": "parked",
            "status_note": None,
            "received_at": r["parked_at"],
        }
        for r in rows
    ]


async def lock_open(conn: Conn, schema: str, dead_id: int) -> asyncpg.Record:
    """Inside a transaction: an open dead letter of version ``schema``, locked; refuses one
    that does not exist or is no longer open."""
    row = await conn.fetchrow(
        f"SELECT * FROM {schema}.dead_letters WHERE id = $1 FOR UPDATE",  # noqa: S608
        dead_id,
    )
    if row is None:
        raise LookupError(f"no dead letter {dead_id}")
    if row["status"] != "open":
        raise ValueError(f"dead letter {dead_id} is {row['status']}, not open")
    return row


async def mark_redriven(conn: Conn, schema: str, dead_id: int, note: str) -> None:
    await conn.execute(
        f"UPDATE {schema}.dead_letters SET status = 'redriven', status_note = $2, "  # noqa: S608
        "status_at = now() WHERE id = $1",
        dead_id,
        note,
    )


async def apply_decision(
    conn: Conn, schema: str, dead_id: int, status: str, note: str | None, at: datetime
) -> None:
    """A decision the audit trail records (re-driven, resolved), put back on a dead letter of
    a restored version, as of when it was taken (services/projector/restore.py)."""
    await conn.execute(
        f"UPDATE {schema}.dead_letters SET status = $2, status_note = $3, "  # noqa: S608
        "status_at = $4 WHERE id = $1 AND status = 'open'",
        dead_id,
        status,
        note,
        at,
    )


async def resolve_dead_letters(conn: Conn, ids: list[int], note: str) -> int:
    """An operator decided these need no re-drive (for example, published again fixed):
    the open ones among them are closed; returns how many."""
    schema = await active_schema(conn)
    result = await conn.execute(
        f"UPDATE {schema}.dead_letters SET status = 'resolved', status_note = $2, "  # noqa: S608
        "status_at = now() WHERE id = ANY($1::bigint[]) AND status = 'open'",
        ids,
        note,
    )
    return int(result.split()[-1])


async def carry_decisions_over(conn: Conn, live: str, rebuilt: str) -> None:
    """Operators' decisions on the dead letters of version ``live``, onto the same dead
    letters (same topic, partition and offset) of version ``rebuilt``."""
    await conn.execute(
        f"UPDATE {rebuilt}.dead_letters n SET status = o.status, "  # noqa: S608
        f"status_note = o.status_note, status_at = o.status_at "
        f"FROM {live}.dead_letters o WHERE o.topic = n.topic "
        f'AND o.partition = n.partition AND o."offset" = n."offset"'
    )
    # And their ids (the dead-letter topic's, which a rebuild does not read): out of the way
    # first, so no id is held twice on the way.
    await conn.execute(f"UPDATE {rebuilt}.dead_letters SET id = -id")  # noqa: S608
    await conn.execute(
        f"UPDATE {rebuilt}.dead_letters n SET id = o.id "  # noqa: S608
        f"FROM {live}.dead_letters o WHERE o.topic = n.topic "
        f'AND o.partition = n.partition AND o."offset" = n."offset"'
    )
    await _number_the_rest(conn, rebuilt)


async def renumber_dead_letters(
    conn: Conn, schema: str, ids: Sequence[tuple[str, int, int, int]]
) -> int:
    """Give version ``schema``'s dead letters the ids the log gives them: ``ids`` is
    (original topic, partition, offset, id) per copy on the dead-letter topic, in the
    topic's order (a copy published again after a crash: the later one is the one whose
    batch committed). Returns how many took an id from the log; the others (none, unless a
    copy was lost) get new ones after them."""
    latest = {(t, p, o): i for t, p, o, i in ids}
    await conn.execute(f"UPDATE {schema}.dead_letters SET id = -id")  # noqa: S608
    result = await conn.execute(
        f"UPDATE {schema}.dead_letters n SET id = m.id "  # noqa: S608
        "FROM unnest($1::text[], $2::int[], $3::bigint[], $4::bigint[]) "
        'AS m(topic, partition, "offset", id) '
        'WHERE m.topic = n.topic AND m.partition = n.partition AND m."offset" = n."offset"',
        [k[0] for k in latest], [k[1] for k in latest], [k[2] for k in latest],
        list(latest.values()),
    )  # fmt: skip
    await _number_the_rest(conn, schema)
    return int(result.split()[-1])


async def _number_the_rest(conn: Conn, schema: str) -> None:
    """Dead letters left without an id from the log get the next ones, in their order; the
    table's sequence continues after the highest."""
    await conn.execute(
        f"SELECT setval(pg_get_serial_sequence('{schema}.dead_letters', 'id'), "  # noqa: S608
        f"greatest(coalesce((SELECT max(id) FROM {schema}.dead_letters), 0), 1))"
    )
    await conn.execute(
        f"UPDATE {schema}.dead_letters SET id = nextval("  # noqa: S608
        f"pg_get_serial_sequence('{schema}.dead_letters', 'id')) WHERE id < 0"
    )


async def insert_dead_letters(conn: Conn, rows: Sequence[dict[str, Any]]) -> None:
    """The batch's refused records (``DeadLetter.row()``); one stored already is kept."""
    if not rows:
        return
    numbered = [r for r in rows if r.get("id") is not None]
    if numbered:  # ids from the dead-letter topic (the live projector's)
        await conn.executemany(
            'INSERT INTO dead_letters (id, topic, partition, "offset", reason, detail, event_id, '
            "event_type, council, financial_year, key, value) "
            "VALUES ($12, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) "
            'ON CONFLICT (topic, partition, "offset") DO NOTHING',
            [(*_values(r), r["id"]) for r in numbered],
        )
        rows = [r for r in rows if r.get("id") is None]
        if not rows:
            return
    await conn.executemany(
        'INSERT INTO dead_letters (topic, partition, "offset", reason, detail, event_id, '
        "event_type, council, financial_year, key, value) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) "
        'ON CONFLICT (topic, partition, "offset") DO NOTHING',
        [_values(r) for r in rows],
    )


def _values(r: dict[str, Any]) -> tuple[Any, ...]:
    return (
        r["topic"], r["partition"], r["offset"], r["reason"], r["detail"],
        r["event_id"], r["event_type"], r["council"], r["financial_year"],
        r["key"], r["value"],
    )  # fmt: skip
