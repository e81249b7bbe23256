"""What the publication job copies from a completed close (services/publication/job.py): the
close's dates, the councils of the year's snapshot (their register details) and the five group
averages, exactly as the close froze them."""

from __future__ import annotations

import json

import asyncpg

from contracts.financial_year import FinancialYear
from services.platform.db import Conn

GROUP_COLUMNS = (
    "comparison_group", "averaging_rule", "councils", "uphold_num", "uphold_den",
    "compliance_num", "compliance_den", "remedy_num", "remedy_den", "upheld_per_100k_num",
    "upheld_per_100k_den",
)  # fmt: skip
COUNCIL_COLUMNS = ("council", "name", "comparison_group", "existed_from", "existed_until")


async def completed_closes(conn: Conn) -> list[asyncpg.Record]:
    """Every completed close: financial_year, close_id, letter_date, publication_date."""
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT financial_year, close_id, letter_date, publication_date "
        "FROM readmodel.year_closes WHERE completed_at IS NOT NULL ORDER BY financial_year"
    )
    return rows


async def snapshot_councils(conn: Conn, year: FinancialYear) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        f"SELECT {', '.join(COUNCIL_COLUMNS)} FROM readmodel.year_snapshot_councils "  # noqa: S608 - constant column names
        "WHERE financial_year = $1 ORDER BY council",
        year.start_year,
    )
    return rows


async def snapshot_groups(conn: Conn, year: FinancialYear) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        f"SELECT {', '.join(GROUP_COLUMNS)} FROM readmodel.year_snapshot_groups "  # noqa: S608 - constant column names
        "WHERE financial_year = $1 ORDER BY comparison_group",
        year.start_year,
    )
    return rows


async def successors(conn: Conn) -> dict[str, list[str]]:
    """Each abolished council's successors, from its latest abolition in the register's facts
    (``CouncilAbolished.replaced_by``); councils without any are left out."""
    rows = await conn.fetch(
        "SELECT DISTINCT ON (council) council, fields -> 'replaced_by' AS replaced_by "
        "FROM readmodel.council_facts WHERE event_type = 'CouncilAbolished' "
        'ORDER BY council, occurred_at DESC, partition DESC, "offset" DESC'
    )
    found = {}
    for r in rows:
        codes = json.loads(r["replaced_by"]) if r["replaced_by"] else []
        if codes:
            found[r["council"]] = [str(c) for c in codes]
    return found


CASE_COLUMNS = ("council", "case_reference", "outcome", "service_area", "published_url")


async def year_cases(conn: Conn, year: FinancialYear) -> list[asyncpg.Record]:
    """The year's standing decisions of the snapshot's councils, one per case reference (a
    case standing on two partitions is a conflict that holds the letters: the lowest
    partition's copy is taken, and the case counts once)."""
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT DISTINCT ON (c.case_reference) c.council, c.case_reference, c.outcome, "
        "c.service_area, c.published_url FROM readmodel.cases c "
        "WHERE c.financial_year = $1 AND NOT c.withdrawn AND EXISTS (SELECT 1 FROM "
        "readmodel.year_snapshot_councils s WHERE s.financial_year = $1 "
        "AND s.council = c.council) ORDER BY c.case_reference, c.partition",
        year.start_year,
    )
    return rows


async def places(conn: Conn) -> list[tuple[str, float, float]]:
    """Every registered council's coordinates, where the register gives them."""
    rows = await conn.fetch(
        "SELECT code, latitude, longitude FROM readmodel.councils "
        "WHERE latitude IS NOT NULL AND longitude IS NOT NULL ORDER BY code"
    )
    return [(r["code"], float(r["latitude"]), float(r["longitude"])) for r in rows]
