"""How far the read models stand: the active version, the stored position of every
partition against the log's end, the dead letters, the years closed, rebuilds under way."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg

from contracts.financial_year import FinancialYear
from services.platform.db import Conn
from services.readmodel.versions import active_schema, building


@dataclass(frozen=True, slots=True)
class PartitionStatus:
    partition: int
    position: int
    end_offset: int
    last_event_at: datetime | None

    @property
    def lag(self) -> int:
        return max(0, self.end_offset - self.position)


@dataclass(slots=True)
class Status:
    version: str | None
    partitions: list[PartitionStatus] = field(default_factory=list)
    dead_letters: dict[str, int] = field(default_factory=dict)
    years: list[dict[str, Any]] = field(default_factory=list)
    rebuilding: list[int] = field(default_factory=list)
    # Events of councils not registered (yet), per council and year, oldest first.
    parked: list[dict[str, Any]] = field(default_factory=list)
    # Cases decided on two partitions, and events applied on two: their letters are held.
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    # The financial years (start years) with any figure: the year board lists each, closed
    # or not, so that the year to close is there before anything is done in it.
    figure_years: list[int] = field(default_factory=list)

    @property
    def lag(self) -> int:
        return sum(p.lag for p in self.partitions)

    @property
    def lag_seconds(self) -> float | None:
        """How old the last applied event is, while events are waiting (0 when caught up)."""
        if self.lag == 0:
            return 0.0
        times = [p.last_event_at for p in self.partitions if p.last_event_at and p.lag]
        if not times:
            return None
        return (datetime.now(UTC) - min(times)).total_seconds()

    def as_dict(self) -> dict[str, Any]:
        return {
            "read_model_version": self.version,
            "lag_events": self.lag,
            "lag_seconds": self.lag_seconds,
            "partitions": [
                {
                    "partition": p.partition,
                    "position": p.position,
                    "end_offset": p.end_offset,
                    "lag": p.lag,
                    "last_event_at": p.last_event_at.isoformat() if p.last_event_at else None,
                }
                for p in self.partitions
            ],
            "dead_letters": self.dead_letters,
            "parked": self.parked,
            "conflicts": self.conflicts,
            "years": self.years,
            "rebuilding_versions": self.rebuilding,
        }


async def read_status(conn: Conn, topic: str, end_offsets: dict[int, int]) -> Status:
    """The status of the active version against the log's ``end_offsets`` of ``topic``."""
    version = await active_schema(conn)
    st = Status(version=version)
    st.rebuilding = await building(conn)
    stored: dict[int, asyncpg.Record] = {}
    if version:
        stored = {
            r["partition"]: r
            for r in await conn.fetch("SELECT * FROM readmodel.positions WHERE topic = $1", topic)
        }
        st.dead_letters = {
            r["status"]: r["n"]
            for r in await conn.fetch(
                "SELECT status, count(*) AS n FROM readmodel.dead_letters GROUP BY status"
            )
        }
        st.years = await _years(conn)
        closed = {y["start_year"] for y in st.years}
        st.parked = [
            {
                "council": r["council"],
                "financial_year": FinancialYear(r["financial_year"]).label
                if r["financial_year"] is not None
                else None,
                "events": r["n"],
                "since": r["since"].isoformat(),
                "year_closed": r["financial_year"] in closed,
            }
            for r in await conn.fetch(
                "SELECT council, financial_year, count(*) AS n, min(parked_at) AS since "
                "FROM readmodel.parked_events GROUP BY council, financial_year "
                "ORDER BY min(parked_at), council, financial_year"
            )
        ]
        st.conflicts = await _conflicts(conn)
        st.figure_years = [
            r["financial_year"]
            for r in await conn.fetch(
                "SELECT DISTINCT financial_year FROM readmodel.council_year_contributions "
                "ORDER BY 1"
            )
        ]
    for p, end in sorted(end_offsets.items()):
        row = stored.get(p)
        st.partitions.append(
            PartitionStatus(
                p, row["next_offset"] if row else 0, end, row["last_event_at"] if row else None
            )
        )
    return st


async def _years(conn: Conn) -> list[dict[str, Any]]:
    """Each year with a cut: where every partition was cut, by which close(s), whether the
    snapshot is complete, its councils, those registered after the close, late events."""
    closes = {
        r["financial_year"]: r for r in await conn.fetch("SELECT * FROM readmodel.year_closes")
    }
    cuts: dict[int, list[asyncpg.Record]] = {}
    for r in await conn.fetch(
        'SELECT financial_year, partition, "offset", close_id, partition_count '
        "FROM readmodel.year_cuts ORDER BY financial_year, partition"
    ):
        cuts.setdefault(r["financial_year"], []).append(r)
    members = {
        (r["financial_year"], r["joined_after_close"]): r
        for r in await conn.fetch(
            "SELECT financial_year, joined_after_close, count(*) AS n, "
            "array_agg(council ORDER BY council) AS councils "
            "FROM readmodel.year_snapshot_councils GROUP BY financial_year, joined_after_close"
        )
    }
    late = {
        r["financial_year"]: r["n"]
        for r in await conn.fetch(
            "SELECT financial_year, count(*) AS n FROM readmodel.late_events GROUP BY 1"
        )
    }
    out = []
    for year, rows in sorted(cuts.items()):
        close = closes.get(year)
        joined = members.get((year, True))
        out.append(
            {
                "financial_year": FinancialYear(year).label,
                "start_year": year,
                "closed_partitions": f"{len(rows)}/{max(r['partition_count'] for r in rows)}",
                "cuts": {str(r["partition"]): r["offset"] for r in rows},
                "close_ids": sorted({str(r["close_id"]) for r in rows}),
                "complete": bool(close and close["completed_at"]),
                "completed_at": close["completed_at"].isoformat()
                if close and close["completed_at"]
                else None,
                "councils": members[(year, False)]["n"] if (year, False) in members else 0,
                "joined_after_close": list(joined["councils"]) if joined else [],
                "late_events": late.get(year, 0),
            }
        )
    return out


async def _conflicts(conn: Conn) -> list[dict[str, Any]]:
    cases = [
        {
            "kind": "case",
            "case_reference": ref,
            "partitions": sorted({r["partition"] for r in rows}),
            "council_years": sorted(
                {f"{r['council']} {FinancialYear(r['financial_year']).label}" for r in rows}
            ),
        }
        for ref, rows in _by(
            await conn.fetch(
                "SELECT * FROM readmodel.case_conflicts ORDER BY case_reference, partition"
            ),
            "case_reference",
        ).items()
    ]
    duplicates = [
        {
            "kind": "event",
            "event_id": str(r["event_id"]),
            "partitions": list(r["partitions"]),
            "council_years": [
                f"{r['council']} "
                + (
                    FinancialYear(r["financial_year"]).label
                    if r["financial_year"]
                    else "every year"
                )
            ],
        }
        for r in await conn.fetch(
            "SELECT * FROM readmodel.cross_partition_duplicates WHERE council IS NOT NULL "
            "ORDER BY event_id"
        )
    ]
    return cases + duplicates


def _by(rows: list[asyncpg.Record], key: str) -> dict[Any, list[asyncpg.Record]]:
    out: dict[Any, list[asyncpg.Record]] = {}
    for r in rows:
        out.setdefault(r[key], []).append(r)
    return out


async def stored_positions(conn: Conn, topic: str) -> dict[int, int]:
    """Partition -> stored next offset in the active version (raises while none exists)."""
    rows = await conn.fetch(
        "SELECT partition, next_offset FROM readmodel.positions WHERE topic = $1", topic
    )
    return {r["partition"]: r["next_offset"] for r in rows}
