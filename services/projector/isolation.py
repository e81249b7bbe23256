"""Finding the record a batch fails on, so that one bad record cannot stall the projector.

A batch is one transaction: if PostgreSQL refuses any of its records (a value the contract
let through but a column cannot hold, say), the whole batch rolls back, and retrying it
fails the same way for ever. When a batch fails for a reason that is not transient, the
records are sorted by partition and offset and the batch is halved: each half is applied in
its own transaction, first half first, and a half that fails is halved again, down to a
single record. Sorted that way, a half applied first never holds a later offset of a
partition than the other half, so the stored positions (which skip everything below them)
never pass a record that was not yet applied.

A record that fails alone, twice, is dead-lettered as ``store_refused`` with the database's
error, and its partition's position moves past it. Transient failures (database down,
connection lost: ``services.platform.db.is_transient``) are never a reason to dead-letter:
the caller retries them without skipping anything. A defect of the projector's own code
would make every record fail alone: after ``MAX_REFUSED_PER_BATCH`` refusals in one batch
the isolation gives up (``SuspectedDefect``) and the caller goes back to retrying the batch
as it was, loudly, until the code is fixed; the few dead letters made before then can be
re-driven. The live projector (apply.py) and the rebuild (rebuild.py) share this, so a
replay reaches the same dead letters from the same log.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import structlog

from services.platform.db import is_transient
from services.projector.batch import BatchResult, Record

log = structlog.get_logger(__name__)

# More refusals than this in one batch: not bad input but a defect (module docstring).
MAX_REFUSED_PER_BATCH = 10
# A record is refused only after failing alone this many times (a one-off failure that is
# not classed as transient must not cost an event).
FAILURES_ALONE = 2


class SuspectedDefect(Exception):
    """Too many records of one batch refused by the database: stop dead-lettering."""


@dataclass(frozen=True, slots=True)
class Steps:
    """How to apply a chunk of records (one transaction; raises on failure), how to
    dead-letter one record the database refused, and what to do on a transient failure
    (wait and return to retry, or raise to give up)."""

    attempt: Callable[[Sequence[Record]], Awaitable[BatchResult]]
    refuse: Callable[[Record, BaseException], Awaitable[BatchResult]]
    on_transient: Callable[[BaseException], Awaitable[None]]
    max_refused: int = MAX_REFUSED_PER_BATCH


async def isolate(
    records: Sequence[Record], first_error: BaseException, steps: Steps
) -> BatchResult:
    """Apply ``records``, whose batch failed with ``first_error`` (not transient), by
    halving; returns what was applied and refused, merged."""
    ordered = sorted(records, key=lambda r: (r.partition, r.offset))
    total = BatchResult()
    refused = 0

    async def run(chunk: Sequence[Record], failed_with: BaseException | None) -> None:
        nonlocal refused
        failures_alone = 0
        error = failed_with
        while True:
            if error is None:
                try:
                    merge(total, await steps.attempt(chunk))
                    return
                except Exception as exc:
                    error = exc
            if is_transient(error):
                await steps.on_transient(error)
                error = None
                continue
            if len(chunk) > 1:
                middle = len(chunk) // 2
                await run(chunk[:middle], None)
                await run(chunk[middle:], None)
                return
            failures_alone += 1
            if failures_alone < FAILURES_ALONE:
                error = None
                continue
            refused += 1
            if refused > steps.max_refused:
                raise SuspectedDefect(
                    f"more than {steps.max_refused} records of one batch refused by the "
                    f"database (the last: {type(error).__name__}: {error})"
                ) from error
            merge(total, await _refuse(chunk[0], error))
            return

    async def _refuse(record: Record, error: BaseException) -> BatchResult:
        while True:
            try:
                return await steps.refuse(record, error)
            except Exception as exc:
                if not is_transient(exc):
                    raise
                await steps.on_transient(exc)

    log.error(
        "batch refused by the database: splitting it to find the record",
        records=len(ordered), error=f"{type(first_error).__name__}: {first_error}"[:500],
    )  # fmt: skip
    await run(ordered, first_error)
    if refused:
        log.error(
            "records dead-lettered as store_refused; the rest of the batch is applied",
            refused=refused, applied=total.applied,
        )  # fmt: skip
    return total


def merge(total: BatchResult, part: BatchResult) -> None:
    """Add ``part`` (a chunk applied after those already in ``total``) to ``total``."""
    total.applied += part.applied
    total.skipped_redelivered += part.skipped_redelivered
    total.skipped_duplicate += part.skipped_duplicate
    total.dead_lettered += part.dead_lettered
    total.late += part.late
    total.years_completed.extend(part.years_completed)
    for partition, offset in part.next_offsets.items():
        total.next_offsets[partition] = max(offset, total.next_offsets.get(partition, 0))
    if part.last_event_at is not None and (
        total.last_event_at is None or part.last_event_at > total.last_event_at
    ):
        total.last_event_at = part.last_event_at
