"""Year end: a FinancialYearClosed marker on a partition finalises that partition's councils.

When every partition's marker has been read, the year's snapshot is complete: its group
averages are computed from the snapshot rows (exactly, as fractions) and stored.
"""

from __future__ import annotations

import structlog

from contracts.envelope import Envelope
from contracts.events import FinancialYearClosed
from services.domain.statistics import AveragingRule, group_averages
from services.readmodel import snapshots
from services.readmodel.store import Conn

log = structlog.get_logger(__name__)


async def close_partition(
    conn: Conn, event: Envelope[FinancialYearClosed], partition: int, rule: AveragingRule
) -> bool:
    """Snapshot the partition's councils for the year; True when the year became complete."""
    close = event.data
    year = close.financial_year
    await snapshots.record_close(conn, event)
    state = await snapshots.lock_close(conn, year)
    if partition in state.partitions_closed:
        # A second close of the same year: its marker comes after the first one here.
        log.info(
            "year already closed on partition",
            year=str(year),
            partition=partition,
            close_id=str(close.close_id),
            first_close_id=str(state.close_id),
        )
        return False
    await snapshots.snapshot_partition(conn, year, partition)
    closed = [*state.partitions_closed, partition]
    await snapshots.mark_partitions_closed(conn, year, closed)
    if len(closed) < state.partition_count:
        return False
    await _complete(conn, event, rule)
    return True


async def _complete(conn: Conn, event: Envelope[FinancialYearClosed], rule: AveragingRule) -> None:
    year = event.data.financial_year
    members = await snapshots.snapshot_members(conn, year)
    await snapshots.store_group_averages(conn, year, rule, group_averages(members, rule))
    await snapshots.mark_complete(conn, year)
    log.info("year snapshot complete", year=str(year), councils=len(members))
