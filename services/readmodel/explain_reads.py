"""The reads behind ``annual-review explain``: a council-year's case histories, its cuts,
its snapshot's counts, its refused and parked events; a case's history. Each is one
indexed query on the live version (schema ``readmodel``), or on a scratch version holding
the log folded up to a moment (``explain --as-of``, services/projector/as_of.py): no
Kafka, so an explanation of the largest council-year answers in well under a second
(docs/benchmarks.md).

The explanation itself is pure (services/domain/explanation.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import asyncpg

from contracts.financial_year import FinancialYear
from services.domain.explanation import Explanation, Refusal, explain
from services.domain.fold import CaseEvent
from services.platform.db import Conn
from services.readmodel.council_figures import check_schema
from services.readmodel.counters import COUNTERS

_LINE = (
    'partition, "offset", event_id::text AS event_id, event_type, case_reference, council, '
    "occurred_at, financial_year, decision_date, outcome, satisfactory_remedy, withdrawn, "
    "implemented"
)


@dataclass(frozen=True, slots=True)
class ExplainInputs:
    history: list[CaseEvent]
    cuts: dict[int, int] | None
    letter_counts: dict[str, int] | None
    refusals: list[Refusal]
    parked: set[str]


async def council_year_inputs(
    conn: Conn, council: str, year: FinancialYear, schema: str = "readmodel"
) -> ExplainInputs:
    check_schema(schema)
    y = year.start_year
    # Every line of every case of the council that was ever in the year (a correction may
    # have moved it out; its earlier lines say it was in).
    rows = await conn.fetch(
        f"SELECT {_LINE} FROM {schema}.case_events WHERE council = $1 AND case_reference IN "  # noqa: S608 (constant column list)
        f"(SELECT case_reference FROM {schema}.case_events WHERE council = $1 "
        "AND financial_year = $2)",
        council,
        y,
    )
    complete = await conn.fetchval(
        f"SELECT count(*) FROM {schema}.year_closes WHERE financial_year = $1",  # noqa: S608 (a checked schema name)
        y,
    )
    cuts = None
    if complete:
        cuts = {
            r["partition"]: r["offset"]
            for r in await conn.fetch(
                f'SELECT partition, "offset" FROM {schema}.year_cuts '  # noqa: S608 (checked)
                "WHERE financial_year = $1",
                y,
            )
        }
    snap = await conn.fetchrow(
        f"SELECT * FROM {schema}.year_snapshot_councils "  # noqa: S608 (a checked schema name)
        "WHERE financial_year = $1 AND council = $2",
        y,
        council,
    )
    refused = await conn.fetch(
        'SELECT partition, "offset", event_id, event_type, reason, detail, status, value '  # noqa: S608 (a checked schema name)
        f"FROM {schema}.dead_letters WHERE council = $1 AND financial_year = $2 "
        "AND status <> 'redriven' ORDER BY partition, \"offset\"",
        council,
        y,
    )
    parked = await conn.fetch(
        f"SELECT event_id::text FROM {schema}.parked_events WHERE council = $1",  # noqa: S608 (a checked schema name)
        council,
    )
    return ExplainInputs(
        history=[_line(r) for r in rows],
        cuts=cuts,
        letter_counts=None if snap is None else {c: snap[c] for c in COUNTERS},
        refusals=[_refusal(r) for r in refused],
        parked={r["event_id"] for r in parked},
    )


async def explain_council_year(
    conn: Conn, council: str, year: FinancialYear, schema: str = "readmodel"
) -> Explanation:
    i = await council_year_inputs(conn, council, year, schema)
    return explain(
        council,
        year,
        i.history,
        cuts=i.cuts,
        letter_counts=i.letter_counts,
        refusals=i.refusals,
        parked=i.parked,
    )


async def case_history(
    conn: Conn, case_reference: str, schema: str = "readmodel"
) -> tuple[list[CaseEvent], list[Refusal]]:
    """Every line of a case (on every partition it is known on) and its refused events."""
    check_schema(schema)
    rows = await conn.fetch(
        f"SELECT {_LINE} FROM {schema}.case_events WHERE case_reference = $1 "  # noqa: S608 (constant column list)
        'ORDER BY partition, "offset"',
        case_reference,
    )
    # A refused event's case is inside its message: the JSON's data.case_reference.
    refused = await conn.fetch(
        'SELECT partition, "offset", event_id, event_type, reason, detail, status, value '  # noqa: S608 (a checked schema name)
        f"FROM {schema}.dead_letters "
        'WHERE value IS NOT NULL AND position($1::bytea IN value) > 0 ORDER BY partition, "offset"',
        case_reference.encode(),
    )
    refusals = [r for r in map(_refusal, refused) if r.case_reference == case_reference]
    return [_line(r) for r in rows], refusals


async def largest_council_year(conn: Conn, year: FinancialYear) -> tuple[str, int]:
    """The council with the most cases in ``year`` and how many (bench.explain_year)."""
    row = await conn.fetchrow(
        "SELECT council, count(DISTINCT case_reference) AS n FROM readmodel.case_events "
        "WHERE financial_year = $1 GROUP BY council ORDER BY n DESC, council LIMIT 1",
        year.start_year,
    )
    return (row["council"], row["n"]) if row else ("", 0)


def _line(r: asyncpg.Record) -> CaseEvent:
    return CaseEvent(
        case_reference=r["case_reference"],
        partition=r["partition"],
        offset=r["offset"],
        event_id=r["event_id"],
        event_type=r["event_type"],
        council=r["council"],
        occurred_at=r["occurred_at"],
        financial_year=r["financial_year"],
        decision_date=r["decision_date"],
        outcome=r["outcome"],
        satisfactory_remedy=r["satisfactory_remedy"],
        withdrawn=r["withdrawn"],
        implemented=r["implemented"],
    )


def _refusal(r: asyncpg.Record) -> Refusal:
    return Refusal(
        partition=r["partition"],
        offset=r["offset"],
        event_id=r["event_id"],
        event_type=r["event_type"],
        case_reference=_case_reference_of(r["value"]),
        reason=r["reason"],
        detail=r["detail"],
        status=r["status"],
    )


def _case_reference_of(value: bytes | None) -> str | None:
    """The case a refused message names, if it is JSON that names one (it may not decode:
    that may be why it was refused)."""
    try:
        ref = json.loads(value or b"")["data"]["case_reference"]
    except (ValueError, KeyError, TypeError):
        return None
    return ref if isinstance(ref, str) else None


async def service_areas(conn: Conn, council: str, references: list[str]) -> dict[str, str | None]:
    """Each case's service area as its latest decision gave it (None: not given), for the
    council's case list."""
    rows = await conn.fetch(
        "SELECT case_reference, service_area FROM readmodel.cases "
        "WHERE council = $1 AND case_reference = ANY($2::text[]) "
        "ORDER BY case_reference, partition",
        council,
        references,
    )
    return {r["case_reference"]: r["service_area"] for r in rows}
