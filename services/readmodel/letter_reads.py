"""What the letter service asks of the read models: is the year's snapshot complete, what
each letter is made from (the snapshot, or the live figures for a re-issue), and which
letters must be held."""

from __future__ import annotations

import asyncio
import json
from datetime import date
from fractions import Fraction
from typing import Any

import asyncpg

from contracts.financial_year import FinancialYear
from contracts.groups import ComparisonGroup
from services.domain.letter_inputs import LetterInputs
from services.domain.statistics import AveragingRule, group_averages
from services.readmodel.council_figures import member, registered_councils
from services.readmodel.counters import as_dict
from services.readmodel.store import Conn


async def wait_for_snapshot(pool: asyncpg.Pool, year_start: int, timeout_s: float) -> bool:
    """True once the year's snapshot is complete; False if it is not within ``timeout_s``."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        async with pool.acquire() as conn:
            done = await conn.fetchval(
                "SELECT completed_at IS NOT NULL FROM readmodel.year_closes "
                "WHERE financial_year = $1",
                year_start,
            )
        if done:
            return True
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.25)


async def snapshot_size(conn: Conn, year: FinancialYear) -> int:
    """How many councils the year's snapshot holds (so far): one letter each."""
    n = await conn.fetchval(
        "SELECT count(*) FROM readmodel.year_snapshot_councils WHERE financial_year = $1",
        year.start_year,
    )
    return int(n)


async def hold_reasons(conn: Conn, year: FinancialYear) -> dict[str | None, str]:
    """Council -> why its letter must wait; key None: dead letters naming no council hold all."""
    rows = await conn.fetch(
        "SELECT council, count(*) AS n FROM readmodel.dead_letters WHERE status = 'open' "
        "AND (financial_year = $1 OR financial_year IS NULL) GROUP BY council",
        year.start_year,
    )
    return {
        r["council"]: f"{r['n']} open dead letter(s) "
        + ("that name no council" if r["council"] is None else f"for {r['council']} {year}")
        for r in rows
    }


async def snapshot_inputs(conn: Conn, year: FinancialYear) -> list[LetterInputs]:
    """Every council's letter inputs from the year's final snapshot (must be complete)."""
    close = await conn.fetchrow(
        "SELECT * FROM readmodel.year_closes "
        "WHERE financial_year = $1 AND completed_at IS NOT NULL",
        year.start_year,
    )
    if close is None:
        raise LookupError(f"the {year} snapshot is not complete")
    groups = {
        r["comparison_group"]: r
        for r in await conn.fetch(
            "SELECT * FROM readmodel.year_snapshot_groups WHERE financial_year = $1",
            year.start_year,
        )
    }
    rows = await conn.fetch(
        "SELECT * FROM readmodel.year_snapshot_councils WHERE financial_year = $1 ORDER BY council",
        year.start_year,
    )
    out = []
    for r in rows:
        g = groups[r["comparison_group"]]
        out.append(
            LetterInputs(
                council=r["council"],
                council_name=r["name"],
                group=r["comparison_group"],
                year=year.label,
                counts=as_dict(r),
                population=r["population"],
                averages={
                    "uphold_rate": _fraction(g["uphold_num"], g["uphold_den"]),
                    "compliance_rate": _fraction(g["compliance_num"], g["compliance_den"]),
                    "satisfactory_remedy_rate": _fraction(g["remedy_num"], g["remedy_den"]),
                    "upheld_per_100k": _fraction(
                        g["upheld_per_100k_num"], g["upheld_per_100k_den"]
                    ),
                },
                group_councils=g["councils"],
                addressee=_json(r["chief_executive"]),
                letter_date=close["letter_date"].isoformat(),
                publication_date=close["publication_date"].isoformat(),
                signatory=_json(close["signatory"]),
            )
        )
    return out


async def live_inputs(
    conn: Conn,
    council: str,
    year: FinancialYear,
    rule: AveragingRule,
    letter_date: date,
    publication_date: date,
    signatory: dict[str, Any],
) -> LetterInputs:
    """A council's letter inputs from the live figures (for a re-issue after a correction)."""
    councils = await registered_councils(conn, year)
    members = [
        member(r, year) for r in councils if year.overlaps(r["existed_from"], r["existed_until"])
    ]
    mine = next((r for r in councils if r["code"] == council), None)
    if mine is None:
        raise LookupError(f"council {council} is not registered")
    group = ComparisonGroup(mine["comparison_group"])
    avg = group_averages([m for m in members if m.group is group], rule)[group]
    return LetterInputs(
        council=council,
        council_name=mine["name"],
        group=group.value,
        year=year.label,
        counts=as_dict(mine),
        population=mine["population"],
        averages={
            k: _fraction(v.numerator, v.denominator) if isinstance(v, Fraction) else None
            for k, v in {
                "uphold_rate": avg.uphold_rate,
                "compliance_rate": avg.compliance_rate,
                "satisfactory_remedy_rate": avg.satisfactory_remedy_rate,
                "upheld_per_100k": avg.upheld_per_100k,
            }.items()
        },
        group_councils=avg.councils,
        addressee=_json(mine["chief_executive"]),
        letter_date=letter_date.isoformat(),
        publication_date=publication_date.isoformat(),
        signatory=signatory,
    )


def _fraction(num: Any, den: Any) -> list[int] | None:
    return None if num is None or den is None else [int(num), int(den)]


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value
