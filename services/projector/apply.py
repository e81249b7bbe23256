"""Applying a batch of records: one transaction, retried with backoff until it is applied.

A failed batch rolled back and stored nothing, so applying the same records again is safe;
skipping them would lose their counts for ever. A transient failure (the database away) is
retried as it is. A failure that is not transient would fail the same way for ever: the
batch is split to find the record the database refuses, the others are applied and that
one is dead-lettered (isolation.py). So the only ways out are "applied" (every record
applied or dead-lettered) and "the service is stopping" (then the records not yet stored
are read again from the stored positions).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

import asyncpg
import structlog

from services.domain.statistics import AveragingRule
from services.platform.db import backoff_delay, is_transient
from services.platform.office_signature import OfficeAuthority
from services.projector import metrics
from services.projector.batch import (
    BatchResult,
    DeadLetterSink,
    Record,
    project_batch,
    refuse_record,
)
from services.projector.isolation import Steps, isolate
from services.readmodel.store import Conn
from services.readmodel.versions import active_schema, share_switch_lock

log = structlog.get_logger(__name__)

BASE_DELAY_S = 0.2
MAX_DELAY_S = 30.0


class ProjectBatch(Protocol):
    """The batch step (``batch.project_batch``)."""

    async def __call__(
        self,
        conn: Conn,
        schema: str,
        records: Sequence[Record],
        *,
        rule: AveragingRule,
        dead_letter_sink: DeadLetterSink | None,
        authority: OfficeAuthority,
    ) -> BatchResult: ...


class RefuseRecord(Protocol):
    """The dead-lettering of one record the database refused (``batch.refuse_record``)."""

    async def __call__(
        self,
        conn: Conn,
        schema: str,
        record: Record,
        error: BaseException,
        *,
        dead_letter_sink: DeadLetterSink | None,
    ) -> BatchResult: ...


async def apply_batch(
    pool: asyncpg.Pool,
    records: Sequence[Record],
    *,
    rule: AveragingRule,
    dead_letter_sink: DeadLetterSink | None,
    authority: OfficeAuthority,
    stopping: Callable[[], bool],
    project: ProjectBatch = project_batch,
    refuse: RefuseRecord = refuse_record,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> BatchResult:
    """Apply ``records`` to the active version; returns only once each is applied or
    dead-lettered, or raises the last error if ``stopping()`` says the service is stopping."""

    async def in_transaction(step: Callable[[Conn, str], Awaitable[BatchResult]]) -> BatchResult:
        async with pool.acquire() as conn:
            # Shared with every other batch; exclusive only while a rebuild switches.
            async with conn.transaction():
                await share_switch_lock(conn)
                schema = await active_schema(conn)
                assert schema is not None
                return await step(conn, schema)

    def attempt_chunk(chunk: Sequence[Record]) -> Awaitable[BatchResult]:
        return in_transaction(
            lambda conn, schema: project(
                conn,
                schema,
                chunk,
                rule=rule,
                dead_letter_sink=dead_letter_sink,
                authority=authority,
            )
        )

    def refuse_one(record: Record, error: BaseException) -> Awaitable[BatchResult]:
        return in_transaction(
            lambda conn, schema: refuse(
                conn, schema, record, error, dead_letter_sink=dead_letter_sink
            )
        )

    attempt = 0

    async def wait(exc: BaseException) -> None:
        nonlocal attempt
        attempt += 1
        if stopping():
            raise exc
        delay = backoff_delay(attempt, BASE_DELAY_S, MAX_DELAY_S)
        log.error(
            "batch failed; nothing was applied, retrying the same records",
            transient=is_transient(exc), attempt=attempt, retry_in_s=round(delay, 2),
            error=f"{type(exc).__name__}: {exc}"[:500],
            exc_info=not is_transient(exc),
        )  # fmt: skip
        metrics.BATCH_FAILURES.inc()
        metrics.FailureStreak.failed()
        await sleep(delay)

    isolating = True
    steps = Steps(attempt=attempt_chunk, refuse=refuse_one, on_transient=wait)
    while True:
        started = time.perf_counter()
        try:
            try:
                result = await attempt_chunk(records)
            except Exception as exc:
                if is_transient(exc) or not isolating or stopping():
                    raise
                metrics.BATCH_FAILURES.inc()
                metrics.FailureStreak.failed()
                # Retrying would fail the same way for ever: find the record it fails on.
                isolating = False  # once per batch: a second time means a defect
                try:
                    result = await isolate(records, exc, steps)
                except Exception as defect:
                    if stopping():
                        raise
                    log.critical(
                        "the batch could not be applied even split into single records: "
                        "this looks like a defect of the projector, not bad input; retrying "
                        "it as it is until the code or the database is fixed",
                        error=f"{type(defect).__name__}: {defect}"[:500],
                    )  # fmt: skip
                    raise
            metrics.observe_batch(result, records, time.perf_counter() - started)
            for year in result.years_completed:
                log.info("financial year snapshot complete", financial_year=year)
            if attempt:
                log.info("batch applied after retrying", failed_attempts=attempt)
            return result
        except Exception as exc:
            await wait(exc)
