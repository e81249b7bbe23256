"""Every read the public web site makes, through the ``publication.web_*`` views only (the
role ar_web can read nothing else). Rows come back as plain frozen data, so the web never
handles a database record.

The views and their grants belong to the publication step (services/publication/migrations/);
the web is their only reader, so the reads that go through them live with it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, TypeAlias

from contracts.financial_year import FinancialYear
from services.platform.db import Conn
from services.web.area_reads import Areas, load_areas

Pair: TypeAlias = tuple[int, int] | None  # an exact average: numerator, denominator
AVERAGES = ("uphold", "compliance", "remedy", "upheld_per_100k")


@dataclass(frozen=True, slots=True)
class YearRow:
    year: FinancialYear
    letter_date: date
    publication_date: date
    published_at: datetime


@dataclass(frozen=True, slots=True)
class GroupRow:
    year: FinancialYear
    group: str
    averaging_rule: str
    councils: int
    averages: dict[str, Pair]  # AVERAGES -> (numerator, denominator)


@dataclass(frozen=True, slots=True)
class CouncilYearRow:
    year: FinancialYear
    council: str
    name: str
    group: str
    existed_from: date | None
    existed_until: date | None
    status: str  # 'published' | 'under_review'
    version: int | None  # the latest sent version
    sent_at: datetime | None
    inputs: dict[str, Any] | None  # the sent letter's inputs, without its addressee


@dataclass(frozen=True, slots=True)
class VersionRow:
    council: str
    year: FinancialYear
    version: int
    sent_at: datetime | None


@dataclass(frozen=True, slots=True)
class Published:
    """Everything published, at one moment."""

    years: list[YearRow]
    groups: list[GroupRow]
    council_years: list[CouncilYearRow]
    versions: list[VersionRow]
    successors: dict[str, tuple[str, ...]] = field(default_factory=dict)  # abolished -> codes
    areas: Areas = field(default_factory=Areas)  # service areas, upheld decisions, places


async def data_version(conn: Conn) -> tuple[Any, ...]:
    """Changes whenever anything the web shows changes (a year published, a letter sent)."""
    row = await conn.fetchrow(
        "SELECT years, last_published_at, letters_sent, last_sent_at, successors, places, "
        "letters_withdrawn "
        "FROM publication.web_data_version"
    )
    assert row is not None
    return tuple(row.values())


def _pair(num: Any, den: Any) -> Pair:
    return None if num is None or den is None else (int(num), int(den))


async def load_published(conn: Conn) -> Published:
    """Every published year, its groups, council-years and letter versions, read in one
    repeatable-read transaction so they agree with each other."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        years = await conn.fetch(
            "SELECT financial_year, letter_date, publication_date, published_at "
            "FROM publication.web_years ORDER BY financial_year"
        )
        groups = await conn.fetch(
            "SELECT * FROM publication.web_groups ORDER BY financial_year, comparison_group"
        )
        councils = await conn.fetch(
            "SELECT financial_year, council, name, comparison_group, existed_from, "
            "existed_until, status, version, sent_at, inputs "
            "FROM publication.web_council_years ORDER BY financial_year, council"
        )
        versions = await conn.fetch(
            "SELECT council, financial_year, version, sent_at "
            "FROM publication.web_letters ORDER BY financial_year, council, version"
        )
        successors = await conn.fetch(
            "SELECT council, successor FROM publication.web_successors ORDER BY council, position"
        )
        areas = await load_areas(conn)
    after: dict[str, tuple[str, ...]] = {}
    for r in successors:
        after[r["council"]] = (*after.get(r["council"], ()), r["successor"])
    return Published(
        years=[
            YearRow(
                FinancialYear(r["financial_year"]),
                r["letter_date"],
                r["publication_date"],
                r["published_at"],
            )
            for r in years
        ],
        groups=[
            GroupRow(
                FinancialYear(r["financial_year"]),
                r["comparison_group"],
                r["averaging_rule"],
                r["councils"],
                {k: _pair(r[f"{k}_num"], r[f"{k}_den"]) for k in AVERAGES},
            )
            for r in groups
        ],
        council_years=[
            CouncilYearRow(
                year=FinancialYear(r["financial_year"]),
                council=r["council"],
                name=r["name"],
                group=r["comparison_group"],
                existed_from=r["existed_from"],
                existed_until=r["existed_until"],
                status=r["status"],
                version=r["version"],
                sent_at=r["sent_at"],
                inputs=json.loads(r["inputs"]) if isinstance(r["inputs"], str) else r["inputs"],
            )
            for r in councils
        ],
        versions=[
            VersionRow(
                r["council"],
                FinancialYear(r["financial_year"]),
                r["version"],
                r["sent_at"],
            )
            for r in versions
        ],
        successors=after,
        areas=areas,
    )


async def letter_html(conn: Conn, council: str, year: FinancialYear, version: int) -> str | None:
    """A sent letter's HTML as it was sent; None when it is not published."""
    html: str | None = await conn.fetchval(
        "SELECT html_body FROM publication.web_letters "
        "WHERE council = $1 AND financial_year = $2 AND version = $3",
        council,
        year.start_year,
        version,
    )
    return html


async def letter_pdf(conn: Conn, council: str, year: FinancialYear, version: int) -> bytes | None:
    """A sent letter's PDF as it was sent; None when it is not published."""
    pdf = await conn.fetchval(
        "SELECT pdf FROM publication.web_letters "
        "WHERE council = $1 AND financial_year = $2 AND version = $3",
        council,
        year.start_year,
        version,
    )
    return None if pdf is None else bytes(pdf)
