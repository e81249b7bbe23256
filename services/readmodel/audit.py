"""Totals that show every record was counted once (the bench checks them after a catch-up):
applied event ids plus dead letters equal the records read, and the outcome counters add
up to the standing decisions."""

from __future__ import annotations

from dataclasses import dataclass

from services.platform.db import Conn
from services.readmodel.counters import OUTCOME_COUNTERS
from services.readmodel.versions import active_schema

_DECIDED = " + ".join(OUTCOME_COUNTERS)


@dataclass(frozen=True, slots=True)
class Totals:
    applied_events: int
    dead_letters: int
    standing_decisions: int  # cases with a decision not withdrawn
    decisions_counted: int  # the sum of the outcome counters


async def totals(conn: Conn) -> Totals:
    """The active version's totals."""
    row = await conn.fetchrow(
        "SELECT (SELECT count(*) FROM readmodel.dead_letters) AS dead, "  # noqa: S608 - constant column names
        "(SELECT count(*) FROM readmodel.cases WHERE NOT withdrawn) AS standing, "
        f"(SELECT coalesce(sum({_DECIDED}), 0) FROM readmodel.council_year_stats) AS decided"
    )
    # applied_events has no view (readers have no use for it): read the active version's.
    schema = await active_schema(conn)
    applied = await conn.fetchval(f"SELECT count(*) FROM {schema}.applied_events")  # noqa: S608
    assert row is not None
    return Totals(int(applied), int(row["dead"]), int(row["standing"]), int(row["decided"]))
