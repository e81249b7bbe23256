"""The publication job: a closed year becomes published at 00:00 UK time on its publication date.

``publish_due(conn)`` records every completed close whose moment has come by the database's
clock, and copies what the close froze (the year's councils, the group averages) into schema
``publication`` in the same transaction, so the web never reads the read models themselves.

The embargo is the database's: the job asks it for the time, and the database refuses a
record made before 00:00 UK time on the publication date by its own clock
(``not_recorded_before_the_publication_date``, publication/0003), whatever the caller says.
``now`` is a seam for tests (and for publishing as of a past moment): a moment later than the
database's clock is refused (``FutureClock``), so no caller can publish early. Publishing
again is harmless: a year is recorded once.

A year's ``published_at`` is the moment it became public (00:00 UK time on its publication
date), however late the job ran (``recorded_at`` says when it did): so the publication record
follows from the log (the close's publication date), and a restore of the database
(``restore_publications``) writes the same record back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import structlog

from contracts.financial_year import FinancialYear
from services.platform.db import Conn
from services.publication.clock import is_due, publishes_at
from services.readmodel import publication_reads

log = structlog.get_logger(__name__)


class FutureClock(ValueError):
    """The caller's clock is ahead of the database's: publishing by it could break the
    embargo, so nothing is published."""

    def __init__(self, now: datetime, database_now: datetime) -> None:
        self.now, self.database_now = now, database_now
        super().__init__(
            f"{now.isoformat()} is later than the database's clock "
            f"({database_now.isoformat()}): a year is published only once the database's "
            f"clock has reached 00:00 UK time on its publication date"
        )


async def database_now(conn: Conn) -> datetime:
    """The database's clock: the moment the embargo is held against."""
    now: datetime = await conn.fetchval("SELECT now()")
    return now


@dataclass(frozen=True, slots=True)
class Close:
    """A completed close, as the job sees it."""

    year: FinancialYear
    publication_date: date
    published_at: datetime | None  # None: not published yet

    @property
    def publishes_at(self) -> datetime:
        return publishes_at(self.publication_date)


async def closes(conn: Conn) -> list[Close]:
    """Every completed close, with its publication if it has one."""
    published = {
        r["financial_year"]: r["published_at"]
        for r in await conn.fetch(
            "SELECT financial_year, published_at FROM publication.published_years"
        )
    }
    return [
        Close(
            FinancialYear(r["financial_year"]),
            r["publication_date"],
            published.get(r["financial_year"]),
        )
        for r in await publication_reads.completed_closes(conn)
    ]


async def publish_due(conn: Conn, now: datetime | None = None) -> list[FinancialYear]:
    """Publish every completed, unpublished close whose publication moment is ``now`` (the
    database's clock unless given) or earlier, and refresh the abolished councils'
    successors; returns the years published by this call. A ``now`` later than the
    database's clock is refused with ``FutureClock`` before anything is written."""
    at_database = await database_now(conn)
    if now is None:
        now = at_database
    elif now > at_database:
        raise FutureClock(now, at_database)
    await refresh_successors(conn)
    await refresh_places(conn)
    done = []
    for close in await closes(conn):
        due = close.published_at is None and is_due(close.publication_date, now)
        if due and await _publish(conn, close.year):
            done.append(close.year)
            log.info("year published", financial_year=close.year.label, at=now.isoformat())
    return done


async def _publish(conn: Conn, year: FinancialYear) -> bool:
    close = next(
        (r for r in await publication_reads.completed_closes(conn)
         if r["financial_year"] == year.start_year),
        None,
    )  # fmt: skip
    if close is None:
        return False
    async with conn.transaction():
        row = await conn.fetchrow(
            "INSERT INTO publication.published_years (financial_year, close_id, letter_date, "
            "publication_date, publishes_at, published_at) "
            "VALUES ($1, $2, $3, $4::date, ($4::date)::timestamp AT TIME ZONE 'Europe/London', "
            "($4::date)::timestamp AT TIME ZONE 'Europe/London') "
            "ON CONFLICT (financial_year) DO NOTHING RETURNING financial_year",
            year.start_year, close["close_id"], close["letter_date"], close["publication_date"],
        )  # fmt: skip
        if row is None:  # another job got there first
            return False
        councils = await publication_reads.snapshot_councils(conn, year)
        await conn.executemany(
            "INSERT INTO publication.published_councils (financial_year, council, name, "
            "comparison_group, existed_from, existed_until) VALUES ($1, $2, $3, $4, $5, $6)",
            [(year.start_year, *(r[c] for c in publication_reads.COUNCIL_COLUMNS))
             for r in councils],
        )  # fmt: skip
        groups = await publication_reads.snapshot_groups(conn, year)
        await conn.executemany(
            "INSERT INTO publication.published_groups (financial_year, comparison_group, "
            "averaging_rule, councils, uphold_num, uphold_den, compliance_num, compliance_den, "
            "remedy_num, remedy_den, upheld_per_100k_num, upheld_per_100k_den) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            [(year.start_year, *(r[c] for c in publication_reads.GROUP_COLUMNS)) for r in groups],
        )
        cases = await publication_reads.year_cases(conn, year)
        await conn.executemany(
            "INSERT INTO publication.published_cases (financial_year, council, case_reference, "
            "outcome, service_area, published_url) VALUES ($1, $2, $3, $4, $5, $6)",
            [(year.start_year, *(r[c] for c in publication_reads.CASE_COLUMNS)) for r in cases],
        )
    return True


async def refresh_places(conn: Conn) -> None:
    """The register's coordinates of every council, copied whole when they changed."""
    rows = await publication_reads.places(conn)
    async with conn.transaction():
        have = await conn.fetch(
            "SELECT council, latitude, longitude FROM publication.council_places ORDER BY council"
        )
        if [tuple(r) for r in have] == rows:
            return
        await conn.execute("DELETE FROM publication.council_places")
        await conn.executemany(
            "INSERT INTO publication.council_places (council, latitude, longitude) "
            "VALUES ($1, $2, $3)",
            rows,
        )


async def refresh_successors(conn: Conn) -> None:
    """The register's successors of abolished councils, copied whole (they are few)."""
    found = await publication_reads.successors(conn)
    rows = [(c, i, s) for c, codes in sorted(found.items()) for i, s in enumerate(codes)]
    async with conn.transaction():
        have = await conn.fetch(
            "SELECT council, position, successor FROM publication.council_successors "
            "ORDER BY council, position"
        )
        if [tuple(r) for r in have] == rows:
            return
        await conn.execute("DELETE FROM publication.council_successors")
        await conn.executemany(
            "INSERT INTO publication.council_successors (council, position, successor) "
            "VALUES ($1, $2, $3)",
            rows,
        )


async def restore_publications(conn: Conn) -> list[FinancialYear]:
    """After a restore of the database from the log: publish every completed close whose
    publication moment has passed by the database's clock, as of that moment, oldest first
    (what the job had done, or would do on its next run)."""
    done: list[FinancialYear] = []
    for close in sorted(await closes(conn), key=lambda c: c.publishes_at):
        if close.published_at is None and is_due(close.publication_date, await database_now(conn)):
            done += await publish_due(conn, close.publishes_at)
    return done


async def publications_present(conn: Conn) -> int:
    """How many years are recorded as published (a restore needs none)."""
    return int(await conn.fetchval("SELECT count(*) FROM publication.published_years"))


async def forget_publications(conn: Conn) -> None:
    """Empty the publication records (``restore --force``): the log gives them back."""
    await conn.execute(
        "TRUNCATE publication.published_cases, publication.published_councils, "
        "publication.published_groups, publication.published_years, "
        "publication.council_places, publication.council_successors"
    )
