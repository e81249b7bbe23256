"""Applying a batch: one transaction on the active version, retried until applied, never skipped.

On fakes: the batch step itself (SQL, positions) is tested on the real servers
(tests/integration/test_projector.py); here, what happens around it when it fails.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from prometheus_client import REGISTRY

from services.domain.statistics import AveragingRule
from services.platform.office_signature import OfficeAuthority
from services.projector import metrics
from services.projector.apply import MAX_DELAY_S, apply_batch
from services.projector.batch import BatchResult, DeadLetterSink, Record
from services.readmodel.versions import VERSION_SWITCH_LOCK
from tests.support.fakes import FakeConnection, FakePool, FakeRecord, Sleeps

RECORDS = (FakeRecord("facts", 0, 41), FakeRecord("facts", 1, 7))


class FlakyStep:
    """The batch step: fails ``failures`` times, then applies; remembers each call."""

    def __init__(self, failures: int, error: Exception | None = None) -> None:
        self.failures = failures
        self.error = error or ConnectionResetError("connection reset by peer")
        self.calls: list[tuple[Any, str, Sequence[Record]]] = []

    async def __call__(
        self,
        conn: Any,
        schema: str,
        records: Sequence[Record],
        *,
        rule: AveragingRule,
        dead_letter_sink: DeadLetterSink | None,
        authority: OfficeAuthority,
    ) -> BatchResult:
        self.calls.append((conn, schema, records))
        if len(self.calls) <= self.failures:
            raise self.error
        return BatchResult(applied=len(records), next_offsets={0: 42, 1: 8})


def failures_counted() -> float:
    return REGISTRY.get_sample_value("projector_batch_failures_total") or 0.0


async def apply(
    pool: FakePool, step: FlakyStep, sleep: Sleeps, *, stopping: bool = False
) -> BatchResult:
    return await apply_batch(
        pool,
        RECORDS,
        rule=AveragingRule.MEAN_OF_RATES,
        dead_letter_sink=None,
        authority=OfficeAuthority([]),
        stopping=lambda: stopping,
        project=step,
        sleep=sleep,
    )


async def test_a_failed_batch_is_retried_with_the_same_records_until_it_is_applied() -> None:
    conn = FakeConnection()
    step, sleep = FlakyStep(failures=3), Sleeps()
    result = await apply(FakePool(conn), step, sleep)
    assert result.applied == 2
    assert len(step.calls) == 4
    assert all(records is RECORDS for _, _, records in step.calls)  # never another batch
    assert [t.outcome for t in conn.transactions] == ["rolled back"] * 3 + ["committed"]


async def test_the_retries_back_off_exponentially_up_to_a_ceiling() -> None:
    step, sleep = FlakyStep(failures=12), Sleeps()
    await apply(FakePool(FakeConnection()), step, sleep)
    assert len(sleep.delays) == 12
    # Half the step plus up to the other half: 0.2 s, 0.4 s, 0.8 s ... capped at 30 s.
    for attempt, delay in enumerate(sleep.delays, start=1):
        step_s = min(MAX_DELAY_S, 0.2 * 2 ** (attempt - 1))
        assert step_s / 2 <= delay <= step_s
    assert max(sleep.delays) > 15  # the ceiling was reached, not a sum of small waits


async def test_a_database_that_does_not_answer_is_waited_for_too() -> None:
    pool = FakePool(FakeConnection(), unreachable=2)
    step, sleep = FlakyStep(failures=0), Sleeps()
    result = await apply(pool, step, sleep)
    assert result.applied == 2
    assert pool.acquired == 3 and len(sleep.delays) == 2
    assert len(step.calls) == 1


async def test_the_batch_runs_in_one_transaction_under_the_shared_switch_lock() -> None:
    conn = FakeConnection(active_schema="rm_v3")
    step = FlakyStep(failures=0)
    await apply(FakePool(conn), step, Sleeps())
    ((used, schema, _),) = step.calls
    assert used is conn and schema == "rm_v3"  # the active version, looked up in the batch
    (transaction,) = conn.transactions
    sql, args = transaction.statements[0]  # before anything is read or written
    assert "pg_advisory_xact_lock_shared" in sql and args == (VERSION_SWITCH_LOCK,)
    assert transaction.outcome == "committed"


async def test_while_the_service_stops_a_failure_is_raised_not_retried() -> None:
    conn = FakeConnection()
    step, sleep = FlakyStep(failures=1, error=OSError("gone")), Sleeps()
    with pytest.raises(OSError, match="gone"):
        await apply(FakePool(conn), step, sleep, stopping=True)
    assert sleep.delays == []
    assert [t.outcome for t in conn.transactions] == ["rolled back"]  # nothing stored


async def test_failures_are_counted_and_health_sees_them_until_a_batch_is_applied() -> None:
    before = failures_counted()
    seen_failing: list[bool] = []
    sleep = Sleeps(
        during=lambda: seen_failing.append(metrics.FailureStreak.failing_since is not None)
    )
    await apply(FakePool(FakeConnection()), FlakyStep(failures=2), sleep)
    assert seen_failing == [True, True]
    assert failures_counted() - before == 2
    assert metrics.FailureStreak.failing_since is None  # applied: healthy again
