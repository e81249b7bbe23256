"""What operators ask of the read models: figures, averages, status, dead letters.

Read-only except for the dead-letter operations, which record an operator's decision.
All reads go through the ``readmodel`` views, so they see the active version.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any, TypeAlias

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition

from contracts.financial_year import FinancialYear
from contracts.groups import ComparisonGroup
from contracts.topics import FACTS
from services.domain.statistics import (
    AveragingRule,
    CouncilYear,
    CouncilYearCounts,
    GroupAverages,
    group_averages,
    one_decimal,
    percent,
)
from services.platform.kafka.admin import partitions_of
from services.platform.kafka.publisher import EventPublisher
from services.platform.kafka.security import client_kwargs, sasl_kwargs
from services.platform.settings import Settings

Conn: TypeAlias = asyncpg.Connection
COUNTS = tuple(CouncilYearCounts.__dataclass_fields__)


@dataclass(frozen=True, slots=True)
class CouncilFigures:
    council: str
    name: str
    group: ComparisonGroup
    year: FinancialYear
    counts: CouncilYearCounts
    population: int | None
    averages: GroupAverages
    late_events: int
    snapshot: CouncilYearCounts | None  # the closed year's figures, if closed
    open_dead_letters: int

    def as_dict(self) -> dict[str, Any]:
        c, a = self.counts, self.averages
        per100k = CouncilYear(self.council, self.year, self.group, c, self.population)
        return {
            "council": self.council,
            "name": self.name,
            "comparison_group": self.group.value,
            "financial_year": self.year.label,
            "counts": {k: getattr(c, k) for k in COUNTS},
            "detailed_investigations": c.detailed_investigations,
            "uphold_rate_percent": percent(c.uphold_rate),
            "compliance_rate_percent": percent(c.compliance_rate),
            "satisfactory_remedy_rate_percent": percent(c.satisfactory_remedy_rate),
            "upheld_per_100k": one_decimal(per100k.upheld_per_100k),
            "group_average": averages_dict(a),
            "late_events": self.late_events,
            "open_dead_letters": self.open_dead_letters,
            "snapshot": {k: getattr(self.snapshot, k) for k in COUNTS} if self.snapshot else None,
        }


def averages_dict(a: GroupAverages) -> dict[str, Any]:
    return {
        "comparison_group": a.group.value,
        "councils": a.councils,
        "uphold_rate_percent": percent(a.uphold_rate),
        "compliance_rate_percent": percent(a.compliance_rate),
        "satisfactory_remedy_rate_percent": percent(a.satisfactory_remedy_rate),
        "upheld_per_100k": one_decimal(a.upheld_per_100k),
    }


async def _members(conn: Conn, year: FinancialYear) -> list[tuple[asyncpg.Record, CouncilYear]]:
    rows = await conn.fetch(
        "SELECT c.*, "
        + ", ".join(f"coalesce(s.{k}, 0) AS {k}" for k in COUNTS)
        + ", coalesce(s.late_events, 0) AS late_events "
        "FROM readmodel.councils c LEFT JOIN readmodel.council_year_stats s "
        "ON s.council = c.code AND s.financial_year = $1 "
        "WHERE (c.existed_from IS NULL OR c.existed_from <= $3) "
        "AND (c.existed_until IS NULL OR c.existed_until >= $2) ORDER BY c.code",
        year.start_year,
        year.first_day,
        year.last_day,
    )
    return [
        (
            r,
            CouncilYear(
                r["code"],
                year,
                ComparisonGroup(r["comparison_group"]),
                CouncilYearCounts(**{k: r[k] for k in COUNTS}),
                r["population"],
            ),
        )
        for r in rows
    ]


async def live_averages(
    conn: Conn, year: FinancialYear, rule: AveragingRule
) -> dict[ComparisonGroup, GroupAverages]:
    """The comparison-group averages of the live figures, computed exactly."""
    return group_averages([m for _, m in await _members(conn, year)], rule)


async def snapshot_averages(
    conn: Conn, year: FinancialYear
) -> dict[ComparisonGroup, GroupAverages]:
    rows = await conn.fetch(
        "SELECT * FROM readmodel.year_snapshot_groups WHERE financial_year = $1", year.start_year
    )

    def f(num: Any, den: Any) -> Fraction | None:
        return None if num is None else Fraction(int(num), int(den))

    return {
        ComparisonGroup(r["comparison_group"]): GroupAverages(
            group=ComparisonGroup(r["comparison_group"]),
            year=year,
            councils=r["councils"],
            uphold_rate=f(r["uphold_num"], r["uphold_den"]),
            compliance_rate=f(r["compliance_num"], r["compliance_den"]),
            satisfactory_remedy_rate=f(r["remedy_num"], r["remedy_den"]),
            upheld_per_100k=f(r["upheld_per_100k_num"], r["upheld_per_100k_den"]),
        )
        for r in rows
    }


async def council_figures(
    conn: Conn, council: str, year: FinancialYear, rule: AveragingRule
) -> CouncilFigures | None:
    members = await _members(conn, year)
    mine = next(((r, m) for r, m in members if m.council == council), None)
    if mine is None:
        return None
    row, member = mine
    averages = group_averages([m for _, m in members if m.group is member.group], rule)
    snap = await conn.fetchrow(
        "SELECT * FROM readmodel.year_snapshot_councils WHERE financial_year = $1 AND council = $2",
        year.start_year,
        council,
    )
    dead = await conn.fetchval(
        "SELECT count(*) FROM readmodel.dead_letters WHERE status = 'open' AND council = $1 "
        "AND (financial_year = $2 OR financial_year IS NULL)",
        council,
        year.start_year,
    )
    return CouncilFigures(
        council=council,
        name=row["name"],
        group=member.group,
        year=year,
        counts=member.counts,
        population=member.population,
        averages=averages[member.group],
        late_events=row["late_events"],
        snapshot=CouncilYearCounts(**{k: snap[k] for k in COUNTS}) if snap else None,
        open_dead_letters=int(dead),
    )


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


async def end_offsets(settings: Settings) -> dict[int, int]:
    consumer = AIOKafkaConsumer(**client_kwargs(settings), request_timeout_ms=10_000)
    await consumer.start()
    try:
        topic = settings.topic(FACTS)
        parts = await partitions_of(settings.kafka_bootstrap, topic, **sasl_kwargs(settings))
        ends = await consumer.end_offsets([TopicPartition(topic, p) for p in parts])
        return {tp.partition: offset for tp, offset in ends.items()}
    finally:
        await consumer.stop()


async def status(conn: Conn, settings: Settings) -> Status:
    version = await conn.fetchval(
        "SELECT schema_name FROM public.projection_versions WHERE status = 'active'"
    )
    st = Status(version=version)
    st.rebuilding = [
        r["version"]
        for r in await conn.fetch(
            "SELECT version FROM public.projection_versions WHERE status = 'building'"
        )
    ]
    ends = await end_offsets(settings)
    stored = {}
    if version:
        stored = {
            r["partition"]: r
            for r in await conn.fetch(
                "SELECT * FROM readmodel.positions WHERE topic = $1", settings.topic(FACTS)
            )
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
    for p, end in sorted(ends.items()):
        row = stored.get(p)
        st.partitions.append(
            PartitionStatus(
                p, row["next_offset"] if row else 0, end, row["last_event_at"] if row else None
            )
        )
    return st


async def dead_letters(
    conn: Conn, *, state: str | None = "open", limit: int = 100
) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        'SELECT id, topic, partition, "offset", reason, detail, event_id, event_type, council, '
        "financial_year, status, status_note, received_at FROM readmodel.dead_letters "
        "WHERE ($1::text IS NULL OR status = $1) ORDER BY id LIMIT $2",
        state,
        limit,
    )
    return [dict(r) for r in rows]


async def redrive(
    conn: Conn, publisher: EventPublisher, ids: list[int], note: str
) -> list[dict[str, Any]]:
    """Publish dead letters' original bytes again (after a fix elsewhere, such as a
    missing council registered), and record that they were re-driven."""
    schema = await conn.fetchval(
        "SELECT schema_name FROM public.projection_versions WHERE status = 'active'"
    )
    out = []
    for dead_id in ids:
        async with conn.transaction():
            row = await conn.fetchrow(
                f"SELECT * FROM {schema}.dead_letters WHERE id = $1 FOR UPDATE",  # noqa: S608
                dead_id,
            )
            if row is None:
                raise LookupError(f"no dead letter {dead_id}")
            if row["status"] != "open":
                raise ValueError(f"dead letter {dead_id} is {row['status']}, not open")
            position = await publisher.publish_raw(
                bytes(row["value"] or b""),
                key=bytes(row["key"]) if row["key"] else None,
                headers=[
                    ("redriven-from", f"{row['topic']}/{row['partition']}/{row['offset']}".encode())
                ],
            )
            await conn.execute(
                f"UPDATE {schema}.dead_letters SET status = 'redriven', status_note = $2, "  # noqa: S608
                "status_at = now() WHERE id = $1",
                dead_id,
                f"{note} -> {position.topic}/{position.partition}/{position.offset}",
            )
        out.append(
            {"id": dead_id, "republished_at": position.offset, "partition": position.partition}
        )
    return out


async def resolve_dead_letters(conn: Conn, ids: list[int], note: str) -> int:
    """An operator decided these need no re-drive (for example, published again fixed)."""
    schema = await conn.fetchval(
        "SELECT schema_name FROM public.projection_versions WHERE status = 'active'"
    )
    result = await conn.execute(
        f"UPDATE {schema}.dead_letters SET status = 'resolved', status_note = $2, "  # noqa: S608
        "status_at = now() WHERE id = ANY($1::bigint[]) AND status = 'open'",
        ids,
        note,
    )
    return int(result.split()[-1])
