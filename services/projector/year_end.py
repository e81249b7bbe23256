"""Year end, cut per partition: a FinancialYearClosed marker on a partition fixes that
partition's part of the year; when every partition's cut is in, the snapshot is made.

The first marker of a year on partition *p* is *p*'s cut: *p*'s contributions to the year
as they stand then (every event before the marker is written first) are copied aside. When
the year has a cut on every partition it **completes**, from the cuts only: the register as
it stood at the cuts, each council's counts summed over the cuts, the dead letters read
before them. Never from how far the other partitions happen to have been read, so the
snapshot is the same in the live run and in a replay (docs/design-partitions.md, D6).
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
from services.readmodel import snapshots
from services.readmodel.snapshots import Cut
from services.readmodel.store import Conn, council_facts

log = structlog.get_logger(__name__)


async def close_partition(
    conn: Conn,
    schema: str,
    event: Envelope[FinancialYearClosed],
    partition: int,
    offset: int,
    rule: AveragingRule,
) -> bool:
    """Cut the partition's part of the year; True when the year became complete."""
    close = event.data
    year = close.financial_year
    await snapshots.lock_year(conn, schema, year)
    if not await snapshots.record_cut(conn, event, partition, offset):
        log.info("year already cut on partition", year=str(year), partition=partition,
                 close_id=str(close.close_id))  # fmt: skip
        return False
    await snapshots.copy_cut_contributions(conn, year, partition)
    if await snapshots.is_complete(conn, year):
        return False
    cuts = await snapshots.cuts(conn, year)
    first = earliest_close(cuts)
    if len(cuts) < first.partition_count:
        return False
    await _complete(conn, year, cuts, first, rule)
    return True


def earliest_close(cuts: Iterable[Cut]) -> Cut:
    """The close whose details the year follows: the earliest requested (two closes whose
    markers interleave give the same answer in any read order)."""
    return min(cuts, key=lambda c: (c.requested_at, c.close_id))


async def _complete(
    conn: Conn, year: FinancialYear, cuts: list[Cut], first: Cut, rule: AveragingRule
) -> None:
    at_cuts = merge_all(await council_facts(conn, before={c.partition: c.offset for c in cuts}))
    rows = snapshot_councils(
        year, at_cuts, await snapshots.live_register(conn), await snapshots.cut_counts(conn, year)
    )
    await snapshots.write_snapshot(
        conn, year, rows, await snapshots.dead_letters_before_cuts(conn, year)
    )
    members = [r.member(year) for r in rows if not r.joined_after_close]
    await snapshots.store_group_averages(conn, year, rule, group_averages(members, rule))
    await snapshots.record_completion(conn, year, first)
    if len({c.close_id for c in cuts}) > 1:
        log.warning("year cut by more than one close; the earliest close's details are used",
                    year=str(year), close_id=str(first.close_id))  # fmt: skip
    joined = [r.code for r in rows if r.joined_after_close]
    log.info("year snapshot complete", year=str(year), councils=len(members),
             joined_after_close=joined)  # fmt: skip


async def refresh_snapshots(conn: Conn, councils: set[str]) -> None:
    """After the register entries of ``councils`` changed: their rows in every completed
    year's snapshot again. Members keep their figures and details (the register at the cuts
    cannot change any more); a council registered after the close joins (or leaves) the
    snapshot, and one that had no population at the close takes the one registered since."""
    if not councils:
        return
    codes = sorted(councils)
    for year in await snapshots.completed_years(conn):
        cuts = await snapshots.cuts(conn, year)
        at_cuts = merge_all(
            await council_facts(conn, codes, before={c.partition: c.offset for c in cuts})
        )
        rows = snapshot_councils(
            year,
            at_cuts,
            await snapshots.live_register(conn, codes),
            await snapshots.cut_counts(conn, year, codes),
        )
        present = {r.code for r in rows}
        await snapshots.drop_joined(conn, year, [c for c in codes if c not in present])
        await snapshots.write_snapshot(
            conn, year, rows, await snapshots.dead_letters_before_cuts(conn, year, codes)
        )
