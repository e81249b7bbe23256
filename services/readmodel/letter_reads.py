"""What the letter service asks of the read models: is the year's snapshot complete, what
each letter is made from (the snapshot, or the live figures for a re-issue), and which
letters must be held."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from datetime import date
from fractions import Fraction
from typing import Any

import asyncpg

from contracts.financial_year import FinancialYear
from contracts.groups import ComparisonGroup
from services.domain.letter_inputs import LetterInputs
from services.domain.statistics import AveragingRule, group_averages
from services.readmodel.council_figures import member, population_for, registered_councils
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
    """Council -> why its letter must wait; key None: dead letters naming no council hold all.

    A letter waits for: open dead letters of its council-year; registration after the close
    (its casework was parked until then, and the averages were made without it); parked
    events of the council-year; a case with a standing decision on two partitions, or an
    event applied on two (counted twice); from the 2022-23 year, no population at all."""
    y = year.start_year
    reasons: dict[str | None, list[str]] = {}

    def add(council: str | None, reason: str) -> None:
        reasons.setdefault(council, []).append(reason)

    # A not_authorised dead letter (Reason.NOT_AUTHORISED: a close or register event the
    # office did not sign) is never casework: the figures miss nothing, so it holds nothing.
    for r in await conn.fetch(
        "SELECT council, count(*) AS n FROM readmodel.dead_letters WHERE status = 'open' "
        "AND reason <> 'not_authorised' "
        "AND (financial_year = $1 OR financial_year IS NULL) GROUP BY council",
        y,
    ):
        add(
            r["council"],
            f"{r['n']} open dead letter(s) "
            + ("that name no council" if r["council"] is None else f"for {r['council']} {year}"),
        )
    snapshot = await conn.fetch(
        "SELECT council, joined_after_close, population FROM readmodel.year_snapshot_councils "
        "WHERE financial_year = $1",
        y,
    )
    for r in snapshot:
        if r["joined_after_close"]:
            add(
                r["council"],
                f"{r['council']} was registered after the {year} close: its casework before the "
                f"close was parked until then and its group's averages were made without it; "
                f"check its figures, then release the letter",
            )
        if r["population"] is None and y >= PER_RESIDENTS_FROM:
            add(r["council"], no_population(r["council"], year))
    for r in await conn.fetch(
        "SELECT council, count(*) AS n FROM readmodel.parked_events "
        "WHERE financial_year = $1 OR financial_year IS NULL GROUP BY council",
        y,
    ):
        add(
            r["council"],
            f"{r['n']} parked event(s) for {r['council']} {year}: published before the council "
            f"was registered",
        )
    for r in await conn.fetch(
        "SELECT council, array_agg(DISTINCT case_reference ORDER BY case_reference) AS refs "
        "FROM readmodel.case_conflicts WHERE financial_year = $1 GROUP BY council",
        y,
    ):
        add(
            r["council"],
            f"case(s) {', '.join(r['refs'])} of {r['council']} {year} have a standing decision "
            f"on more than one partition (published by two producers, or with two keys or "
            f"partitioners) and are counted on each: withdraw the copy that does not belong "
            f"where it was published, then release the letter",
        )
    for r in await conn.fetch(
        "SELECT council, count(*) AS n FROM readmodel.cross_partition_duplicates "
        "WHERE council IS NOT NULL AND (financial_year = $1 OR financial_year IS NULL) "
        "GROUP BY council",
        y,
    ):
        add(
            r["council"],
            f"{r['n']} event(s) of {r['council']} {year} applied on two partitions (published "
            f"twice with different keys or partitioners) and counted twice: check the figures, "
            f"then release or re-issue the letter",
        )
    return {council: "; ".join(rs) for council, rs in reasons.items()}


# The first financial year whose letters print upheld decisions per 100,000 residents
# (2022-23, the 2023 letters: docs/domain.md §8).
PER_RESIDENTS_FROM = 2022


def no_population(council: str, year: FinancialYear) -> str:
    return (
        f"no population for {council} in {year}: register one with "
        f"`annual-review councils import` or release the letter"
    )


async def snapshot_inputs(
    conn: Conn, year: FinancialYear, councils: Sequence[str] | None = None
) -> list[LetterInputs]:
    """Letter inputs from the year's final snapshot (must be complete), of every council
    in it or of ``councils``."""
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
        "SELECT * FROM readmodel.year_snapshot_councils WHERE financial_year = $1 "
        "AND ($2::text[] IS NULL OR council = ANY($2::text[])) ORDER BY council",
        year.start_year,
        None if councils is None else list(councils),
    )
    out = []
    for r in rows:
        g = groups.get(r["comparison_group"])
        out.append(
            LetterInputs(
                council=r["council"],
                council_name=r["name"],
                group=r["comparison_group"],
                year=year.label,
                counts=as_dict(r),
                population=r["population"],
                population_year=r["population_year"],
                averages=_stored_averages(g),
                # A council that joined after the close may be the first of its group.
                group_councils=g["councils"] if g else 0,
                addressee=_json(r["chief_executive"]),
                copy_to=tuple(_json(r["copy_to"]) or ()),
                letter_date=close["letter_date"].isoformat(),
                publication_date=close["publication_date"].isoformat(),
                signatory=_json(close["signatory"]),
            )
        )
    return out


async def joined_after_close(conn: Conn, year: FinancialYear) -> list[str]:
    """The councils of the year's snapshot that were registered after its close."""
    rows = await conn.fetch(
        "SELECT council FROM readmodel.year_snapshot_councils WHERE financial_year = $1 "
        "AND joined_after_close ORDER BY council",
        year.start_year,
    )
    return [r["council"] for r in rows]


def _stored_averages(g: asyncpg.Record | None) -> dict[str, list[int] | None]:
    if g is None:
        return dict.fromkeys(
            ("uphold_rate", "compliance_rate", "satisfactory_remedy_rate", "upheld_per_100k")
        )
    return {
        "uphold_rate": _fraction(g["uphold_num"], g["uphold_den"]),
        "compliance_rate": _fraction(g["compliance_num"], g["compliance_den"]),
        "satisfactory_remedy_rate": _fraction(g["remedy_num"], g["remedy_den"]),
        "upheld_per_100k": _fraction(g["upheld_per_100k_num"], g["upheld_per_100k_den"]),
    }


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
    estimate = population_for(mine, year)
    return LetterInputs(
        council=council,
        council_name=mine["name"],
        group=group.value,
        year=year.label,
        counts=as_dict(mine),
        population=estimate.population if estimate else None,
        population_year=estimate.year if estimate else None,
        copy_to=tuple(_json(mine["copy_to"]) or ()),
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
