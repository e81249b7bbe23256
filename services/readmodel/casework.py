"""The casework's rows: a batch's working set loaded, and what the fold changed written
(cases, per-partition contributions, late events).

Every statement is parameterised and set-based (one per table per batch, via unnest), and
runs in the caller's transaction with search_path set to the version's schema, so the same
code serves the live tables and a rebuild's new version.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

import asyncpg

from contracts.events import DecisionOutcome, ServiceArea
from services.domain.fold import CaseEvent, CaseState, ContributionKey, WorkingSet
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
            "satisfactory_remedy, withdrawn, service_area, published_url, decision_date) "
            "SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::int[], $5::text[], "
            "$6::bool[], $7::bool[], $8::text[], $9::text[], $10::date[]) "
            "ON CONFLICT (case_reference, partition) DO UPDATE SET council = excluded.council, "
            "financial_year = excluded.financial_year, outcome = excluded.outcome, "
            "satisfactory_remedy = excluded.satisfactory_remedy, withdrawn = excluded.withdrawn, "
            "service_area = excluded.service_area, published_url = excluded.published_url, "
            "decision_date = excluded.decision_date",
            [c.case_reference for c in cases],
            [c.partition for c in cases],
            [c.council for c in cases],
            [c.financial_year for c in cases],
            [c.outcome.value for c in cases],
            [c.satisfactory_remedy for c in cases],
            [c.withdrawn for c in cases],
            [c.service_area.value if c.service_area else None for c in cases],
            [c.published_url for c in cases],
            [c.decision_date for c in cases],
        )
    if ws.history:
        await write_history(conn, ws.history)
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


async def write_history(conn: Conn, history: Sequence[CaseEvent]) -> None:
    """The cases' history lines (``case_events``); a line already there (the same position)
    is the same event folded again after a rolled-back batch: kept as it is."""
    h = history
    await conn.execute(
        'INSERT INTO case_events (partition, "offset", event_id, event_type, case_reference, '
        "council, occurred_at, financial_year, decision_date, outcome, satisfactory_remedy, "
        "withdrawn, implemented) "
        "SELECT * FROM unnest($1::int[], $2::bigint[], $3::uuid[], $4::text[], $5::text[], "
        "$6::text[], $7::timestamptz[], $8::int[], $9::date[], $10::text[], $11::bool[], "
        "$12::bool[], $13::bool[]) ON CONFLICT DO NOTHING",
        [e.partition for e in h],
        [e.offset for e in h],
        [e.event_id for e in h],
        [e.event_type for e in h],
        [e.case_reference for e in h],
        [e.council for e in h],
        [e.occurred_at for e in h],
        [e.financial_year for e in h],
        [e.decision_date for e in h],
        [e.outcome for e in h],
        [e.satisfactory_remedy for e in h],
        [e.withdrawn for e in h],
        [e.implemented for e in h],
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
        decision_date=r["decision_date"],
    )
