"""The casework's rows: a batch's working set loaded, and what the fold changed written
(cases, per-partition contributions, late events).

Every statement is parameterised and set-based (one per table per batch, via unnest), and
runs in the caller's transaction with search_path set to the version's schema, so the same
code serves the live tables and a rebuild's new version.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import asyncpg

from contracts.events import DecisionOutcome, ServiceArea
from services.domain.fold import CaseState, ContributionKey, WorkingSet
from services.platform.db import Conn
from services.readmodel.counters import COUNTERS


async def load_working_set(conn: Conn, cases: Iterable[str]) -> WorkingSet:
    """The batch's cases on every partition they are known on, and each partition's cuts."""
    refs = sorted(set(cases))
    case_rows = await conn.fetch("SELECT * FROM cases WHERE case_reference = ANY($1::text[])", refs)
    return WorkingSet(
        cases={(r["case_reference"], r["partition"]): _case(r) for r in case_rows},
        cut_years=await cut_years(conn),
    )


async def cut_years(conn: Conn) -> dict[int, set[int]]:
    """Partition -> the years whose cut (close marker) on it has been read."""
    out: dict[int, set[int]] = {}
    for r in await conn.fetch("SELECT partition, financial_year FROM year_cuts"):
        out.setdefault(r["partition"], set()).add(r["financial_year"])
    return out


async def write_casework(conn: Conn, ws: WorkingSet, last_event_at: datetime | None) -> None:
    """The working set's changed cases, its contributions' deltas and its late events."""
    if ws.changed_cases:
        cases = [ws.cases[k] for k in sorted(ws.changed_cases)]
        await conn.execute(
            "INSERT INTO cases (case_reference, partition, council, financial_year, outcome, "
            "satisfactory_remedy, withdrawn, service_area, published_url) "
            "SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::int[], $5::text[], "
            "$6::bool[], $7::bool[], $8::text[], $9::text[]) "
            "ON CONFLICT (case_reference, partition) DO UPDATE SET council = excluded.council, "
            "financial_year = excluded.financial_year, outcome = excluded.outcome, "
            "satisfactory_remedy = excluded.satisfactory_remedy, withdrawn = excluded.withdrawn, "
            "service_area = excluded.service_area, published_url = excluded.published_url",
            [c.case_reference for c in cases],
            [c.partition for c in cases],
            [c.council for c in cases],
            [c.financial_year for c in cases],
            [c.outcome.value for c in cases],
            [c.satisfactory_remedy for c in cases],
            [c.withdrawn for c in cases],
            [c.service_area.value if c.service_area else None for c in cases],
            [c.published_url for c in cases],
        )
    await _write_contributions(conn, ws, last_event_at)
    if ws.late:
        await conn.execute(
            "INSERT INTO late_events (event_id, partition, council, financial_year, event_type) "
            "SELECT * FROM unnest($1::uuid[], $2::int[], $3::text[], $4::int[], $5::text[]) "
            "ON CONFLICT DO NOTHING",
            [e.event_id for e, _ in ws.late],
            [k[2] for _, k in ws.late],
            [k[0] for _, k in ws.late],
            [k[1] for _, k in ws.late],
            [e.type for e, _ in ws.late],
        )


def late_per_key(ws: WorkingSet) -> dict[ContributionKey, int]:
    """How many late events each contribution of the working set received."""
    out: dict[ContributionKey, int] = {}
    for _, key in ws.late:
        out[key] = out.get(key, 0) + 1
    return out


async def _write_contributions(conn: Conn, ws: WorkingSet, last_event_at: datetime | None) -> None:
    late = late_per_key(ws)
    keys = sorted(set(ws.deltas) | set(late))
    if not keys:
        return
    columns = [*COUNTERS, "late_events"]
    values = [
        [ws.deltas[k].get(col, 0) if col != "late_events" else late.get(k, 0) for k in keys]
        for col in columns
    ]
    # Rows first (zeros), then add: an upsert would check the CHECK constraints against the
    # bare delta, which may be negative.
    await conn.execute(
        "INSERT INTO council_year_contributions (council, financial_year, partition) "
        "SELECT * FROM unnest($1::text[], $2::int[], $3::int[]) ON CONFLICT DO NOTHING",
        [k[0] for k in keys],
        [k[1] for k in keys],
        [k[2] for k in keys],
    )
    placeholders = ", ".join(f"${i + 4}::int[]" for i in range(len(columns)))
    names = ", ".join(f"v{i}" for i in range(len(columns)))
    await conn.execute(
        "UPDATE council_year_contributions s SET "  # noqa: S608 (column names are constants)
        + ", ".join(f"{col} = s.{col} + d.v{i}" for i, col in enumerate(columns))
        + f", last_event_at = ${len(columns) + 4}::timestamptz "
        f"FROM unnest($1::text[], $2::int[], $3::int[], {placeholders}) AS d(c, y, p, {names}) "
        f"WHERE s.council = d.c AND s.financial_year = d.y AND s.partition = d.p",
        [k[0] for k in keys],
        [k[1] for k in keys],
        [k[2] for k in keys],
        *values,
        last_event_at,
    )


def _case(r: asyncpg.Record) -> CaseState:
    return CaseState(
        case_reference=r["case_reference"],
        partition=r["partition"],
        council=r["council"],
        financial_year=r["financial_year"],
        outcome=DecisionOutcome(r["outcome"]),
        satisfactory_remedy=r["satisfactory_remedy"],
        withdrawn=r["withdrawn"],
        service_area=ServiceArea(r["service_area"]) if r["service_area"] else None,
        published_url=r["published_url"],
    )
