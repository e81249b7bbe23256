"""The projection's store on PostgreSQL: the read models of one version's schema, through
the modules that own their tables (positions, casework, register_facts, parking,
dead_letters, snapshots). It satisfies ``services.projector.projection_store.ProjectionStore``
and adds nothing of its own but the transaction and the version's search_path.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any
from uuid import UUID

from contracts.envelope import Envelope
from contracts.events import FinancialYearClosed
from contracts.financial_year import FinancialYear
from contracts.groups import ComparisonGroup
from services.domain.fold import Folded, WorkingSet
from services.domain.register import CouncilState, RegistryFact
from services.domain.statistics import AveragingRule, CouncilYearCounts, GroupAverages
from services.domain.year_snapshot import SnapshotCouncil
from services.platform.db import Conn
from services.readmodel import casework, dead_letters, parking, positions, register_facts
from services.readmodel import snapshots as snap
from services.readmodel.positions import Claim
from services.readmodel.snapshots import Cut
from services.readmodel.versions import use_version


class PgProjectionStore:
    def __init__(self, conn: Conn, schema: str) -> None:
        self.conn = conn
        self.schema = schema

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        """Inside the caller's transaction (the live projector's) no savepoint: any failure
        propagates and rolls the whole transaction back, and that saves two round trips per
        batch. Alone (the rebuild), the block is its own transaction."""
        if self.conn.is_in_transaction():
            await use_version(self.conn, self.schema)
            yield
            return
        async with self.conn.transaction():
            await use_version(self.conn, self.schema)
            yield

    async def lock_positions(self, topic: str, partitions: Sequence[int]) -> dict[int, int]:
        return await positions.lock_positions(self.conn, topic, partitions)

    async def advance_positions(
        self, topic: str, next_offsets: dict[int, tuple[int, datetime | None]]
    ) -> None:
        await positions.advance_positions(self.conn, topic, next_offsets)

    async def claim_applied(self, claims: Sequence[Claim]) -> set[tuple[UUID, int]]:
        return await positions.claim_applied(self.conn, claims)

    async def unclaim_applied(self, claims: Sequence[tuple[UUID, int]]) -> None:
        await positions.unclaim_applied(self.conn, claims)

    async def load_working_set(self, cases: Sequence[str]) -> WorkingSet:
        return await casework.load_working_set(self.conn, cases)

    async def write_casework(self, ws: WorkingSet, last_event_at: datetime | None) -> None:
        await casework.write_casework(self.conn, ws, last_event_at)

    async def store_facts(self, facts: Sequence[RegistryFact]) -> None:
        await register_facts.store_facts(self.conn, facts)

    async def council_facts(
        self, councils: Sequence[str] | None = None, before: dict[int, int] | None = None
    ) -> list[RegistryFact]:
        return await register_facts.council_facts(self.conn, councils, before)

    async def write_register(self, merged: Mapping[str, CouncilState]) -> None:
        await register_facts.write_register(self.conn, merged)

    async def registered(self, codes: Sequence[str]) -> set[str]:
        return await register_facts.registered(self.conn, codes)

    async def park(self, events: Sequence[Folded]) -> None:
        await parking.park(self.conn, events)

    async def release_parked(self, councils: Sequence[str]) -> None:
        await parking.release_parked(self.conn, councils)

    async def insert_dead_letters(self, rows: Sequence[dict[str, Any]]) -> None:
        await dead_letters.insert_dead_letters(self.conn, rows)

    async def lock_year(self, year: FinancialYear) -> None:
        await snap.lock_year(self.conn, self.schema, year)

    async def record_cut(
        self, event: Envelope[FinancialYearClosed], partition: int, offset: int
    ) -> bool:
        return await snap.record_cut(self.conn, event, partition, offset)

    async def copy_cut_contributions(self, year: FinancialYear, partition: int) -> None:
        await snap.copy_cut_contributions(self.conn, year, partition)

    async def cuts(self, year: FinancialYear) -> list[Cut]:
        return await snap.cuts(self.conn, year)

    async def is_complete(self, year: FinancialYear) -> bool:
        return await snap.is_complete(self.conn, year)

    async def completed_years(self) -> list[FinancialYear]:
        return await snap.completed_years(self.conn)

    async def cut_counts(
        self, year: FinancialYear, councils: Sequence[str] | None = None
    ) -> dict[str, CouncilYearCounts]:
        return await snap.cut_counts(self.conn, year, councils)

    async def live_register(self, councils: Sequence[str] | None = None) -> dict[str, CouncilState]:
        return await snap.live_register(self.conn, councils)

    async def dead_letters_before_cuts(
        self, year: FinancialYear, councils: Sequence[str] | None = None
    ) -> dict[str, int]:
        return await snap.dead_letters_before_cuts(self.conn, year, councils)

    async def write_snapshot(
        self, year: FinancialYear, rows: Sequence[SnapshotCouncil], dead: dict[str, int]
    ) -> None:
        await snap.write_snapshot(self.conn, year, rows, dead)

    async def drop_joined(self, year: FinancialYear, councils: Sequence[str]) -> None:
        await snap.drop_joined(self.conn, year, councils)

    async def store_group_averages(
        self,
        year: FinancialYear,
        rule: AveragingRule,
        averages: dict[ComparisonGroup, GroupAverages],
    ) -> None:
        await snap.store_group_averages(self.conn, year, rule, averages)

    async def record_completion(self, year: FinancialYear, close: Cut) -> None:
        await snap.record_completion(self.conn, year, close)
