"""The projection's store in memory: the tables the batch step and the year end write, as
dictionaries, so that ``project_batch`` and the year end run in the unit tests without
servers (services/projector/projection_store.py is the port it implements).

Honest about what it is: one writer, no locks (``lock_positions``/``lock_year`` only read),
no CHECK constraints; a transaction is a copy of the state put back if the block fails, as
PostgreSQL's rollback would. Each method does what its PostgreSQL module's statement does
(services/readmodel/positions.py, casework.py, register_facts.py, parking.py,
dead_letters.py, snapshots.py), row for row.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from contracts.envelope import Envelope
from contracts.events import FinancialYearClosed
from contracts.financial_year import FinancialYear
from contracts.groups import ComparisonGroup
from services.domain.fold import CaseEvent, CaseState, Folded, WorkingSet
from services.domain.register import CouncilState, RegistryFact
from services.domain.statistics import AveragingRule, CouncilYearCounts, GroupAverages
from services.domain.year_snapshot import SnapshotCouncil
from services.readmodel.casework import late_per_key
from services.readmodel.counters import COUNTERS
from services.readmodel.positions import Claim
from services.readmodel.snapshots import Cut

Counts = dict[str, int]


@dataclass
class Tables:
    positions: dict[tuple[str, int], int] = field(default_factory=dict)
    applied: dict[tuple[UUID, int], tuple[str | None, int | None]] = field(default_factory=dict)
    cases: dict[tuple[str, int], CaseState] = field(default_factory=dict)
    case_events: dict[tuple[int, int], CaseEvent] = field(default_factory=dict)
    # (council, year, partition) -> counter -> value, with "late_events"
    contributions: dict[tuple[str, int, int], Counts] = field(default_factory=dict)
    late_events: set[tuple[UUID, int]] = field(default_factory=set)
    facts: dict[tuple[int, int], RegistryFact] = field(default_factory=dict)
    councils: dict[str, CouncilState] = field(default_factory=dict)
    parking: dict[tuple[int, int], Folded] = field(default_factory=dict)
    dead_letters: dict[tuple[str, int, int], dict[str, Any]] = field(default_factory=dict)
    year_cuts: dict[tuple[int, int], Cut] = field(default_factory=dict)
    cut_contributions: dict[tuple[int, int, str], Counts] = field(default_factory=dict)
    snapshot: dict[tuple[int, str], tuple[SnapshotCouncil, int]] = field(default_factory=dict)
    group_averages: dict[tuple[int, ComparisonGroup], GroupAverages] = field(default_factory=dict)
    completed: dict[int, Cut] = field(default_factory=dict)


class MemoryProjectionStore:
    def __init__(self) -> None:
        self.t = Tables()
        self.commits = 0
        self.rollbacks = 0

    # What the tests read: the live figures (council_year_stats sums the contributions).

    def figures(self, council: str, year: int) -> Counts:
        out: Counts = defaultdict(int)
        for (c, y, _), row in self.t.contributions.items():
            if (c, y) == (council, year):
                for name, value in row.items():
                    out[name] += value
        return dict(out)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        before = copy.deepcopy(self.t)
        try:
            yield
        except BaseException:
            self.t = before
            self.rollbacks += 1
            raise
        self.commits += 1

    # positions.py

    async def lock_positions(self, topic: str, partitions: Sequence[int]) -> dict[int, int]:
        return {p: self.t.positions.setdefault((topic, p), 0) for p in partitions}

    async def advance_positions(
        self, topic: str, next_offsets: dict[int, tuple[int, datetime | None]]
    ) -> None:
        for p, (offset, _) in next_offsets.items():
            if (topic, p) in self.t.positions:
                self.t.positions[topic, p] = offset

    async def claim_applied(self, claims: Sequence[Claim]) -> set[tuple[UUID, int]]:
        # As the one INSERT ... ON CONFLICT DO NOTHING: a pair twice in the claims is
        # claimed by its first; only pairs there before the statement come back.
        before = {(c[0], c[1]) for c in claims} & self.t.applied.keys()
        for event_id, partition, council, year in claims:
            self.t.applied.setdefault((event_id, partition), (council, year))
        return before

    async def unclaim_applied(self, claims: Sequence[tuple[UUID, int]]) -> None:
        for claim in claims:
            self.t.applied.pop(claim, None)

    # casework.py

    async def load_working_set(self, cases: Sequence[str]) -> WorkingSet:
        refs = set(cases)
        cut_years: dict[int, set[int]] = {}
        for year, partition in self.t.year_cuts:
            cut_years.setdefault(partition, set()).add(year)
        return WorkingSet(
            cases={k: copy.copy(c) for k, c in self.t.cases.items() if k[0] in refs},
            cut_years=cut_years,
        )

    async def write_casework(self, ws: WorkingSet, last_event_at: datetime | None) -> None:
        for case in ws.changed_cases:
            self.t.cases[case] = copy.copy(ws.cases[case])
        for line in ws.history:
            self.t.case_events.setdefault((line.partition, line.offset), line)
        late = late_per_key(ws)
        for key in set(ws.deltas) | set(late):
            row = self.t.contributions.setdefault(key, dict.fromkeys([*COUNTERS, "late_events"], 0))
            for name, delta in ws.deltas[key].items():
                row[name] += delta
            row["late_events"] += late.get(key, 0)
        self.t.late_events |= {(e.event_id, k[2]) for e, k in ws.late}

    # register_facts.py

    async def store_facts(self, facts: Sequence[RegistryFact]) -> None:
        for f in facts:
            self.t.facts.setdefault((f.partition, f.offset), f)

    async def council_facts(
        self, councils: Sequence[str] | None = None, before: dict[int, int] | None = None
    ) -> list[RegistryFact]:
        return [
            f
            for f in self.t.facts.values()
            if (councils is None or f.council in councils)
            and (before is None or (f.partition in before and f.offset < before[f.partition]))
        ]

    async def write_register(self, merged: Mapping[str, CouncilState]) -> None:
        self.t.councils.update(merged)

    async def registered(self, codes: Sequence[str]) -> set[str]:
        return {c for c in codes if c in self.t.councils}

    # parking.py, dead_letters.py

    async def park(self, events: Sequence[Folded]) -> None:
        for f in events:
            self.t.parking.setdefault((f.partition, f.offset), f)

    async def release_parked(self, councils: Sequence[str]) -> None:
        for key, f in list(self.t.parking.items()):
            if f.event.council in councils:
                del self.t.parking[key]

    async def insert_dead_letters(self, rows: Sequence[dict[str, Any]]) -> None:
        for r in rows:
            self.t.dead_letters.setdefault(
                (r["topic"], r["partition"], r["offset"]), {**r, "status": "open"}
            )

    # snapshots.py

    async def lock_year(self, year: FinancialYear) -> None:
        return None  # one writer

    async def record_cut(
        self, event: Envelope[FinancialYearClosed], partition: int, offset: int
    ) -> bool:
        close = event.data
        key = (close.financial_year.start_year, partition)
        if key in self.t.year_cuts:
            return False
        self.t.year_cuts[key] = Cut(
            partition=partition, offset=offset, close_id=close.close_id,
            requested_at=event.occurred_at, letter_date=close.letter_date,
            publication_date=close.publication_date, signatory=close.signatory.model_dump(),
            partition_count=close.partition_count,
        )  # fmt: skip
        return True

    async def copy_cut_contributions(self, year: FinancialYear, partition: int) -> None:
        for (council, y, p), row in self.t.contributions.items():
            if (y, p) == (year.start_year, partition):
                self.t.cut_contributions.setdefault((y, p, council), {c: row[c] for c in COUNTERS})

    async def cuts(self, year: FinancialYear) -> list[Cut]:
        found = [c for (y, _), c in self.t.year_cuts.items() if y == year.start_year]
        return sorted(found, key=lambda c: c.partition)

    async def is_complete(self, year: FinancialYear) -> bool:
        return year.start_year in self.t.completed

    async def completed_years(self) -> list[FinancialYear]:
        return [FinancialYear(y) for y in sorted(self.t.completed)]

    async def cut_counts(
        self, year: FinancialYear, councils: Sequence[str] | None = None
    ) -> dict[str, CouncilYearCounts]:
        sums: dict[str, Counts] = {}
        for (y, _, council), row in self.t.cut_contributions.items():
            if y == year.start_year and (councils is None or council in councils):
                total = sums.setdefault(council, dict.fromkeys(COUNTERS, 0))
                for c in COUNTERS:
                    total[c] += row[c]
        return {council: CouncilYearCounts(**row) for council, row in sums.items()}

    async def live_register(self, councils: Sequence[str] | None = None) -> dict[str, CouncilState]:
        return {c: s for c, s in self.t.councils.items() if councils is None or c in councils}

    async def dead_letters_before_cuts(
        self, year: FinancialYear, councils: Sequence[str] | None = None
    ) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for (_, partition, offset), d in self.t.dead_letters.items():
            cut = self.t.year_cuts.get((year.start_year, partition))
            if (
                cut is not None and offset < cut.offset and d["status"] == "open"
                and d["council"] is not None and d["reason"] != "not_authorised"
                and d["financial_year"] in (year.start_year, None)
                and (councils is None or d["council"] in councils)
            ):  # fmt: skip
                out[d["council"]] += 1
        return dict(out)

    async def write_snapshot(
        self, year: FinancialYear, rows: Sequence[SnapshotCouncil], dead: dict[str, int]
    ) -> None:
        for r in rows:
            self.t.snapshot[year.start_year, r.code] = (r, dead.get(r.code, 0))

    async def drop_joined(self, year: FinancialYear, councils: Sequence[str]) -> None:
        for code in councils:
            row = self.t.snapshot.get((year.start_year, code))
            if row is not None and row[0].joined_after_close:
                del self.t.snapshot[year.start_year, code]

    async def store_group_averages(
        self,
        year: FinancialYear,
        rule: AveragingRule,
        averages: dict[ComparisonGroup, GroupAverages],
    ) -> None:
        for group, avg in averages.items():
            self.t.group_averages.setdefault((year.start_year, group), avg)

    async def record_completion(self, year: FinancialYear, close: Cut) -> None:
        self.t.completed.setdefault(year.start_year, close)
