"""A batch the database refuses is split to find the record, never retried for ever.

On fakes (the step that applies a chunk, the step that dead-letters a record): what is tried
in which order. The same on the real PostgreSQL: tests/integration/test_store_refusals.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg
import pytest

from services.domain.statistics import AveragingRule
from services.platform.office_signature import OfficeAuthority
from services.projector.apply import apply_batch
from services.projector.batch import BatchResult, DeadLetterSink, Record
from services.projector.isolation import MAX_REFUSED_PER_BATCH
from tests.support.fakes import FakeConnection, FakePool, FakeRecord, Sleeps

# SQLSTATE 22P05 (untranslatable_character): what PostgreSQL says of U+0000; not transient.
Refused = asyncpg.exceptions.UntranslatableCharacterError


class Store:
    """Applies chunks, refusing any chunk that holds a record in ``bad``; remembers every
    chunk tried, every record applied (in order) and every record dead-lettered."""

    def __init__(self, bad: set[tuple[int, int]], *, transient_first: int = 0) -> None:
        self.bad = bad
        self.transient_first = transient_first
        self.tried: list[list[tuple[int, int]]] = []
        self.applied: list[tuple[int, int]] = []
        self.refused: list[tuple[tuple[int, int], BaseException]] = []
        self.done: list[tuple[int, int]] = []  # applied or refused, in the order it happened

    async def project(
        self, conn: Any, schema: str, records: Sequence[Record], *, rule: AveragingRule,
        dead_letter_sink: DeadLetterSink | None,
        authority: OfficeAuthority,
    ) -> BatchResult:  # fmt: skip
        chunk = [(r.partition, r.offset) for r in records]
        self.tried.append(chunk)
        if self.transient_first:
            self.transient_first -= 1
            raise ConnectionResetError("connection reset by peer")
        if self.bad & set(chunk):
            raise Refused("invalid byte sequence for encoding")
        self.applied.extend(sorted(chunk))
        self.done.extend(sorted(chunk))
        return BatchResult(
            applied=len(chunk),
            next_offsets={p: max(o for q, o in chunk if q == p) + 1 for p, _ in chunk},
        )

    async def refuse(
        self, conn: Any, schema: str, record: Record, error: BaseException, *,
        dead_letter_sink: DeadLetterSink | None,
    ) -> BatchResult:  # fmt: skip
        self.refused.append(((record.partition, record.offset), error))
        self.done.append((record.partition, record.offset))
        return BatchResult(dead_lettered=1, next_offsets={record.partition: record.offset + 1})


def records(*positions: tuple[int, int]) -> list[FakeRecord]:
    return [FakeRecord("facts", p, o) for p, o in positions]


async def apply(store: Store, batch: Sequence[Record], sleep: Sleeps | None = None) -> BatchResult:
    return await apply_batch(
        FakePool(FakeConnection()), batch, rule=AveragingRule.MEAN_OF_RATES,
        dead_letter_sink=None, authority=OfficeAuthority(()), stopping=lambda: False,
        project=store.project, refuse=store.refuse, sleep=sleep or Sleeps(),
    )  # fmt: skip


# Two partitions, interleaved as Kafka hands them over.
BATCH = records(*[(p, o) for o in range(10, 18) for p in (1, 0)])


async def test_the_refused_record_is_dead_lettered_and_every_other_record_applied() -> None:
    store = Store(bad={(1, 13)})
    result = await apply(store, BATCH)
    assert [r for r, _ in store.refused] == [(1, 13)]
    assert isinstance(store.refused[0][1], Refused)  # with the database's error
    assert sorted(store.applied) == sorted({(r.partition, r.offset) for r in BATCH} - {(1, 13)})
    assert result.applied == 15 and result.dead_lettered == 1
    assert result.next_offsets == {0: 18, 1: 18}


async def test_halves_are_applied_in_each_partitions_offset_order() -> None:
    store = Store(bad={(0, 11), (1, 16)})
    await apply(store, BATCH)
    # Whatever the split, every partition's records are applied or refused in offset order:
    # a position stored after a half never passes a record of a later half.
    assert sorted(store.done) == sorted((r.partition, r.offset) for r in BATCH)
    for partition in (0, 1):
        offsets = [o for p, o in store.done if p == partition]
        assert offsets == sorted(offsets)
    first_split = store.tried[1]
    assert first_split == [(0, o) for o in range(10, 18)]  # sorted by partition, then offset


async def test_a_record_is_refused_only_after_failing_alone_twice() -> None:
    store = Store(bad={(0, 12)})
    await apply(store, BATCH)
    assert store.tried.count([(0, 12)]) == 2


async def test_a_transient_failure_is_retried_without_dead_lettering() -> None:
    store, sleep = Store(bad=set(), transient_first=3), Sleeps()
    result = await apply(store, BATCH, sleep)
    assert store.refused == [] and result.applied == 16
    assert len(sleep.delays) == 3
    assert all(chunk == store.tried[0] for chunk in store.tried)  # the whole batch each time


async def test_a_transient_failure_while_isolating_retries_the_same_chunk() -> None:
    store, sleep = Store(bad={(1, 17)}), Sleeps()
    original = store.project

    async def flaky_once(
        conn: Any, schema: str, records: Sequence[Record], **kw: Any
    ) -> BatchResult:
        if len(store.tried) == 2:  # the first half, once
            store.tried.append([])
            raise ConnectionRefusedError("database restarting")
        return await original(conn, schema, records, **kw)

    result = await apply_batch(
        FakePool(FakeConnection()), BATCH, rule=AveragingRule.MEAN_OF_RATES,
        dead_letter_sink=None, authority=OfficeAuthority(()), stopping=lambda: False,
        project=flaky_once,
        refuse=store.refuse, sleep=sleep,
    )  # fmt: skip
    assert [r for r, _ in store.refused] == [(1, 17)]
    assert result.applied == 15 and len(sleep.delays) == 1


async def test_a_defect_refusing_everything_stops_the_dead_lettering_and_retries() -> None:
    store = Store(bad={(r.partition, r.offset) for r in BATCH})
    sleep = Sleeps()

    class Stop(Exception):
        pass

    async def stop_after_a_retry(delay: float) -> None:
        sleep.delays.append(delay)
        if len(sleep.delays) == 3:
            raise Stop  # the retries would go on for ever: two are enough to see

    with pytest.raises(Stop):
        await apply_batch(
            FakePool(FakeConnection()), BATCH, rule=AveragingRule.MEAN_OF_RATES,
            dead_letter_sink=None, authority=OfficeAuthority(()), stopping=lambda: False,
            project=store.project, refuse=store.refuse, sleep=stop_after_a_retry,
        )  # fmt: skip
    assert len(store.refused) == MAX_REFUSED_PER_BATCH  # then no more: a defect
    whole = store.tried[0]
    assert store.tried[-2:] == [whole] * 2  # back to retrying the batch as it is
