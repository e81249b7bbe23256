"""Every table of a database dumped, each sorted, to compare a database with itself after a
restore from the log (tests/reliability/test_restore.py).

The read models are dumped through the ``readmodel`` views (the version schema's name is
the restore's own), every other schema's tables directly. Columns that are local
bookkeeping (docs/operations.md, "What a restore gives back") are left out by the caller.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import asyncpg

SCHEMAS = ("readmodel", "letters", "publication", "office", "public")

Dump = dict[str, list[tuple[Any, ...]]]


async def dump_tables(conn: asyncpg.Connection, leave_out: Mapping[str, frozenset[str]]) -> Dump:
    """``schema.table`` -> its rows (every column but those ``leave_out`` names for it; the
    whole table when it names ``*``), sorted."""
    relations = await conn.fetch(
        "SELECT n.nspname AS schema, c.relname AS name FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = ANY($1::text[]) AND c.relkind IN ('r', 'v') ORDER BY 1, 2",
        list(SCHEMAS),
    )
    dump: Dump = {}
    for r in relations:
        qualified = f"{r['schema']}.{r['name']}"
        kind = await conn.fetchval(
            "SELECT relkind FROM pg_class WHERE oid = $1::regclass", qualified
        )
        if r["schema"] == "readmodel" and kind != "v":  # the read models through their views
            continue
        skip = leave_out.get(qualified, frozenset())
        if "*" in skip:
            continue
        columns = [
            c["attname"]
            for c in await conn.fetch(
                "SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 "
                "AND NOT attisdropped ORDER BY attnum",
                qualified,
            )
            if c["attname"] not in skip
        ]
        listed = ", ".join(f'"{c}"' for c in columns)
        rows = await conn.fetch(f"SELECT {listed} FROM {qualified}")
        dump[qualified] = sorted((tuple(row) for row in rows), key=repr)
    return dump


def differences(before: Dump, after: Dump) -> dict[str, str]:
    """Table -> what differs (rows only before, only after), for an assertion's message."""
    found = {}
    for table in sorted(set(before) | set(after)):
        a, b = before.get(table), after.get(table)
        if a == b:
            continue
        if a is None or b is None:
            found[table] = "missing before" if a is None else "missing after"
            continue
        only_a = [row for row in a if row not in b]
        only_b = [row for row in b if row not in a]
        found[table] = (
            f"{len(a)} rows before, {len(b)} after; only before: {only_a[:2]!r}; "
            f"only after: {only_b[:2]!r}"
        )[:1500]
    return found
