"""Year end, cut per partition: a FinancialYearClosed marker on a partition fixes that
partition's part of the year; when every partition's cut is in, the snapshot is made.

The first marker of a year on partition *p* is *p*'s cut: *p*'s contributions to the year
as they stand then (every event before the marker is written first) are copied aside. When
the year has a cut on every partition it **completes**, from the cuts only: the register as
it stood at the cuts, each council's counts summed over the cuts, the dead letters read
before them. Never from how far the other partitions happen to have been read, so the
snapshot is the same in the live run and in a replay (docs/design-partitions.md, D6).

Both steps run inside the batch's transaction, on the projection's store (on PostgreSQL or
in memory: projection_store.py).
"""

from __future__ import annotations

from collections.abc import Iterable

import structlog

from contracts.envelope import Envelope
from contracts.events import FinancialYearClosed
from contracts.financial_year import FinancialYear
from services.domain.register import merge_all
from services.domain.statistics import AveragingRule, group_averages
from services.domain.year_snapshot import snapshot_councils
from services.projector.projection_store import ProjectionStore
from services.readmodel.snapshots import Cut

log = structlog.get_logger(__name__)


async def close_partition(
    store: ProjectionStore,
    event: Envelope[FinancialYearClosed],
    partition: int,
    offset: int,
    rule: AveragingRule,
) -> bool:
    """Cut the partition's part of the year; True when the year became complete."""
    close = event.data
    year = close.financial_year
    await store.lock_year(year)
    if not await store.record_cut(event, partition, offset):
        log.info("year already cut on partition", year=str(year), partition=partition,
                 close_id=str(close.close_id))  # fmt: skip
        return False
    await store.copy_cut_contributions(year, partition)
    if await store.is_complete(year):
        return False
    cuts = await store.cuts(year)
    first = earliest_close(cuts)
    if len(cuts) < first.partition_count:
        return False
    await _complete(store, year, cuts, first, rule)
    return True


def earliest_close(cuts: Iterable[Cut]) -> Cut:
    """The close whose details the year follows: the earliest requested (two closes whose
    markers interleave give the same answer in any read order)."""
    return min(cuts, key=lambda c: (c.requested_at, c.close_id))


async def _complete(
    store: ProjectionStore, year: FinancialYear, cuts: list[Cut], first: Cut, rule: AveragingRule
) -> None:
    at_cuts = merge_all(await store.council_facts(before={c.partition: c.offset for c in cuts}))
    rows = snapshot_councils(
        year, at_cuts, await store.live_register(), await store.cut_counts(year)
    )
    await store.write_snapshot(year, rows, await store.dead_letters_before_cuts(year))
    members = [r.member(year) for r in rows if not r.joined_after_close]
    await store.store_group_averages(year, rule, group_averages(members, rule))
    await store.record_completion(year, first)
    if len({c.close_id for c in cuts}) > 1:
        log.warning("year cut by more than one close; the earliest close's details are used",
                    year=str(year), close_id=str(first.close_id))  # fmt: skip
    joined = [r.code for r in rows if r.joined_after_close]
    log.info("year snapshot complete", year=str(year), councils=len(members),
             joined_after_close=joined)  # fmt: skip


async def refresh_snapshots(store: ProjectionStore, councils: set[str]) -> None:
    """After the register entries of ``councils`` changed: their rows in every completed
    year's snapshot again. Members keep their figures and details (the register at the cuts
    cannot change any more); a council registered after the close joins (or leaves) the
    snapshot, and one that had no population at the close takes the one registered since."""
    if not councils:
        return
    codes = sorted(councils)
    for year in await store.completed_years():
        cuts = await store.cuts(year)
        at_cuts = merge_all(
            await store.council_facts(codes, before={c.partition: c.offset for c in cuts})
        )
        rows = snapshot_councils(
            year,
            at_cuts,
            await store.live_register(codes),
            await store.cut_counts(year, codes),
        )
        present = {r.code for r in rows}
        await store.drop_joined(year, [c for c in codes if c not in present])
        await store.write_snapshot(year, rows, await store.dead_letters_before_cuts(year, codes))
