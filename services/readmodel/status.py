"""How far the read models stand: the active version, the stored position of every
partition against the log's end, the dead letters, the years closed, rebuilds under way."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg

from contracts.financial_year import FinancialYear
from services.readmodel.store import Conn
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
        for r in await conn.fetch("SELECT * FROM readmodel.year_closes ORDER BY financial_year"):
            st.years.append(
                {
                    "financial_year": FinancialYear(r["financial_year"]).label,
                    "closed_partitions": f"{len(r['partitions_closed'])}/{r['partition_count']}",
                    "complete": r["completed_at"] is not None,
                    "completed_at": r["completed_at"].isoformat() if r["completed_at"] else None,
                }
            )
    for p, end in sorted(end_offsets.items()):
        row = stored.get(p)
        st.partitions.append(
            PartitionStatus(
                p, row["next_offset"] if row else 0, end, row["last_event_at"] if row else None
            )
        )
    return st


async def stored_positions(conn: Conn, topic: str) -> dict[int, int]:
    """Partition -> stored next offset in the active version (raises while none exists)."""
    rows = await conn.fetch(
        "SELECT partition, next_offset FROM readmodel.positions WHERE topic = $1", topic
    )
    return {r["partition"]: r["next_offset"] for r in rows}
