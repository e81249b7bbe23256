"""Applying a batch of records: one transaction, retried with backoff until it is applied.

A failed batch rolled back and stored nothing, so applying the same records again is safe;
skipping them would lose their counts for ever. So the only ways out are "applied" and
"the service is stopping" (then nothing of the batch was stored, and its records are read
again from the stored positions).
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
from services.projector.batch import BatchResult, DeadLetterSink, Record, project_batch
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


async def apply_batch(
    pool: asyncpg.Pool,
    records: Sequence[Record],
    *,
    rule: AveragingRule,
    dead_letter_sink: DeadLetterSink | None,
    authority: OfficeAuthority,
    stopping: Callable[[], bool],
    project: ProjectBatch = project_batch,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> BatchResult:
    """Apply ``records`` to the active version; returns only once they are applied, or
    raises the last error if ``stopping()`` says the service is stopping."""
    attempt = 0
    while True:
        started = time.perf_counter()
        try:
            async with pool.acquire() as conn:
                # Shared with every other batch; exclusive only while a rebuild switches.
                async with conn.transaction():
                    await share_switch_lock(conn)
                    schema = await active_schema(conn)
                    assert schema is not None
                    result = await project(
                        conn,
                        schema,
                        records,
                        rule=rule,
                        dead_letter_sink=dead_letter_sink,
                        authority=authority,
                    )
            metrics.observe_batch(result, records, time.perf_counter() - started)
            for year in result.years_completed:
                log.info("financial year snapshot complete", financial_year=year)
            if attempt:
                log.info("batch applied after retrying", failed_attempts=attempt)
            return result
        except Exception as exc:
            attempt += 1
            if stopping():
                raise
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
