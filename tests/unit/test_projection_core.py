"""The projection's use cases without servers: ``project_batch`` and the year end on the
in-memory store (tests/support/memory_projection.py). The same steps run on PostgreSQL in
tests/integration/test_projector.py, test_partitions.py and the rebuild tests.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Sequence
from datetime import date
from typing import Any
from uuid import uuid4

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from contracts import Envelope, new_event
from contracts.codec import Reason, encode
from contracts.examples import examples
from contracts.financial_year import FinancialYear
from services.domain.statistics import AveragingRule
from services.platform.office_signature import OfficeAuthority, OfficeSigner, is_office_event
from services.projector.batch import BatchResult, DeadLetter, project_batch, refuse_record
from tests.support.casework import (
    complied,
    corrected,
    council,
    decided,
    expected_figures,
    random_casework,
    withdrawn,
)
from tests.support.fakes import FakeRecord
from tests.support.memory_projection import MemoryProjectionStore

pytestmark = pytest.mark.asyncio

TOPIC = "casework.facts"
OFFICE = OfficeSigner(Ed25519PrivateKey.generate())
AUTHORITY = OfficeAuthority([OFFICE.key.public_key()])
Y2019 = FinancialYear(2019)
IN_2019 = date(2019, 6, 1)


class Log:
    """A topic's partitions as the projector reads them: each event gets the next offset of
    its partition; the office's events are signed as its publisher signs them."""

    def __init__(self) -> None:
        self.next: dict[int, int] = {}

    def record(self, event: Envelope[Any], partition: int = 0, *, sign: bool = True) -> FakeRecord:
        raw = encode(event)
        offset = self.next.get(partition, 0)
        self.next[partition] = offset + 1
        headers = [OFFICE.header(raw)] if sign and is_office_event(event) else []
        return FakeRecord(TOPIC, partition, offset, value=raw, headers=headers)


def close_of(year: FinancialYear, partitions: int) -> Envelope[Any]:
    data = examples()["FinancialYearClosed"].data.model_copy(
        update={"financial_year": year, "partition_count": partitions, "close_id": uuid4()}
    )
    return new_event(data, council=None, producer="tests")


async def project(
    store: MemoryProjectionStore,
    records: Sequence[FakeRecord],
    sink: list[DeadLetter] | None = None,
) -> BatchResult:
    async def publish(dead: Sequence[DeadLetter]) -> None:
        if sink is not None:
            sink.extend(dead)

    return await project_batch(
        store, "rm_v1", records, rule=AveragingRule.MEAN_OF_RATES, dead_letter_sink=publish,
        authority=AUTHORITY,
    )  # fmt: skip


async def registered(store: MemoryProjectionStore, log: Log, *codes: str) -> None:
    await project(store, [log.record(council(c, "District")) for c in codes])


async def test_records_handed_over_out_of_order_are_folded_in_their_partitions_order() -> None:
    store, log = MemoryProjectionStore(), Log()
    await registered(store, log, "AAA")
    first = log.record(decided("AAA", "C1", IN_2019, "upheld"))
    second = log.record(corrected("AAA", "C1", IN_2019, "not_upheld"))
    result = await project(store, [second, first])  # a correction before its decision
    assert result.applied == 2 and result.dead_lettered == 0
    assert store.figures("AAA", 2019)["not_upheld"] == 1
    assert store.figures("AAA", 2019)["upheld"] == 0
    assert result.next_offsets == {0: second.offset + 1}


async def test_the_same_event_id_twice_counts_once_in_a_batch_and_across_batches() -> None:
    store, log = MemoryProjectionStore(), Log()
    await registered(store, log, "AAA")
    event = decided("AAA", "C1", IN_2019, "upheld")
    result = await project(store, [log.record(event), log.record(event)])
    assert (result.applied, result.skipped_duplicate) == (1, 1)
    again = await project(store, [log.record(event)])  # a producer retry, later in the log
    assert (again.applied, again.skipped_duplicate) == (0, 1)
    assert store.figures("AAA", 2019)["upheld"] == 1


async def test_records_below_the_stored_position_are_skipped_as_redelivered() -> None:
    store, log = MemoryProjectionStore(), Log()
    await registered(store, log, "AAA")
    batch = [log.record(decided("AAA", f"C{i}", IN_2019, "upheld")) for i in range(3)]
    await project(store, batch)
    fresh = log.record(decided("AAA", "C9", IN_2019, "not_upheld"))
    result = await project(store, [*batch, fresh])  # a rebalance hands them over again
    assert (result.skipped_redelivered, result.applied) == (3, 1)
    assert store.figures("AAA", 2019)["upheld"] == 3
    assert store.t.positions[TOPIC, 0] == fresh.offset + 1


async def test_corrections_and_withdrawals_move_the_counts() -> None:
    store, log = MemoryProjectionStore(), Log()
    await registered(store, log, "AAA")
    await project(store, [
        log.record(decided("AAA", "C1", IN_2019, "upheld", remedy=True)),
        log.record(decided("AAA", "C2", IN_2019, "upheld")),
        log.record(complied("AAA", "C2", IN_2019)),
    ])  # fmt: skip
    await project(store, [
        log.record(corrected("AAA", "C1", date(2020, 5, 1), "not_upheld")),  # moves year too
        log.record(withdrawn("AAA", "C2", IN_2019)),
    ])  # fmt: skip
    y2019, y2020 = store.figures("AAA", 2019), store.figures("AAA", 2020)
    assert (y2019["upheld"], y2019["satisfactory_remedies"], y2019["compliance_outcomes"]) == (
        0,
        0,
        1,
    )
    assert y2020["not_upheld"] == 1


async def test_an_event_the_fold_refuses_is_dead_lettered_and_its_id_stays_free() -> None:
    store, log, sink = MemoryProjectionStore(), Log(), list[DeadLetter]()
    await registered(store, log, "AAA")
    orphan = corrected("AAA", "NOPE", IN_2019, "upheld")  # no decision to correct
    result = await project(store, [log.record(orphan)], sink)
    assert result.dead_lettered == 1 and [d.rejection.event_id for d in sink] == [
        str(orphan.event_id)
    ]
    assert (orphan.event_id, 0) not in store.t.applied  # a fixed re-drive is not a duplicate


async def test_an_unsigned_close_is_not_authorised_and_cuts_nothing() -> None:
    store, log, sink = MemoryProjectionStore(), Log(), list[DeadLetter]()
    result = await project(store, [log.record(close_of(Y2019, 1), sign=False)], sink)
    assert result.dead_lettered == 1 and sink[0].rejection.reason is Reason.NOT_AUTHORISED
    assert store.t.year_cuts == {} and result.years_completed == []


async def test_the_year_completes_when_every_partition_is_cut_and_late_events_stay_out() -> None:
    store, log = MemoryProjectionStore(), Log()
    close = close_of(Y2019, 2)
    await project(
        store,
        [log.record(council("AAA", "District"), 0), log.record(council("BBB", "District"), 1)],
    )
    await project(store, [
        log.record(decided("AAA", "A1", IN_2019, "upheld"), 0),
        log.record(decided("BBB", "B1", IN_2019, "not_upheld"), 1),
        log.record(close, 0),
        log.record(decided("AAA", "A2", IN_2019, "upheld"), 0),  # after partition 0's cut
    ])  # fmt: skip
    assert await store.completed_years() == [] and set(store.t.year_cuts) == {(2019, 0)}
    result = await project(store, [
        log.record(decided("BBB", "B2", IN_2019, "upheld"), 1),  # before partition 1's cut
        log.record(close, 1),
    ])  # fmt: skip
    assert result.years_completed == ["2019-20"]
    snapshot = {code: row for (y, code), (row, _) in store.t.snapshot.items() if y == 2019}
    assert (snapshot["AAA"].counts.upheld, snapshot["BBB"].counts.upheld) == (1, 1)
    assert snapshot["BBB"].counts.not_upheld == 1
    assert store.t.group_averages  # the averages are made from the snapshot

    late = await project(store, [log.record(decided("BBB", "B3", IN_2019, "upheld"), 1)])
    assert late.late == 1 and store.figures("BBB", 2019)["late_events"] == 1
    assert store.figures("BBB", 2019)["upheld"] == 2  # the live figures move
    assert store.t.snapshot[2019, "BBB"][0].counts.upheld == 1  # the snapshot does not
    assert store.figures("AAA", 2019)["late_events"] == 1  # A2, read after its cut


async def test_a_second_close_marker_on_a_partition_does_not_cut_it_again() -> None:
    store, log = MemoryProjectionStore(), Log()
    await registered(store, log, "AAA")
    await project(store, [log.record(close_of(Y2019, 2), 0)])
    await project(store, [log.record(decided("AAA", "A1", IN_2019, "upheld"), 0)])
    result = await project(store, [log.record(close_of(Y2019, 2), 0)])
    assert result.applied == 1 and result.years_completed == []
    assert store.t.year_cuts[2019, 0].offset == 1  # still the first marker's


async def test_casework_of_an_unregistered_council_is_parked_until_it_is_registered() -> None:
    store, log = MemoryProjectionStore(), Log()
    await project(store, [log.record(decided("NEW", "N1", IN_2019, "upheld"), 0)])
    assert [f.event.council for f in store.t.parking.values()] == ["NEW"]
    assert store.figures("NEW", 2019)["upheld"] == 1  # counted, not yet in any register
    await project(store, [log.record(council("NEW", "Unitary"), 3)])  # on another partition
    assert store.t.parking == {} and "NEW" in store.t.councils


async def test_a_council_registered_after_the_close_joins_the_snapshot() -> None:
    store, log = MemoryProjectionStore(), Log()
    await project(store, [
        log.record(decided("NEW", "N1", IN_2019, "upheld")), log.record(close_of(Y2019, 1)),
    ])  # fmt: skip
    assert await store.completed_years() == [Y2019] and store.t.snapshot == {}
    await project(store, [log.record(council("NEW", "Unitary"))])
    row, _ = store.t.snapshot[2019, "NEW"]
    assert row.joined_after_close and row.counts.upheld == 1


async def test_a_failed_batch_leaves_the_store_as_it_was() -> None:
    store, log = MemoryProjectionStore(), Log()
    await registered(store, log, "AAA")
    before = copy.deepcopy(store.t)

    async def broken(_: Any) -> None:
        raise ConnectionResetError("the sink is away")

    with pytest.raises(ConnectionResetError):
        await project_batch(
            store, "rm_v1", [log.record(corrected("AAA", "X", IN_2019, "upheld"))],
            rule=AveragingRule.MEAN_OF_RATES, dead_letter_sink=broken, authority=AUTHORITY,
        )  # fmt: skip
    assert store.t == before and store.rollbacks == 1


async def test_a_record_the_database_refused_is_dead_lettered_and_passed() -> None:
    store, log, sink = MemoryProjectionStore(), Log(), list[DeadLetter]()
    record = log.record(decided("AAA", "C1", IN_2019, "upheld"), 2)

    async def publish(dead: Sequence[DeadLetter]) -> None:
        sink.extend(dead)

    result = await refuse_record(store, "rm_v1", record, ValueError("no"), dead_letter_sink=publish)
    assert result.next_offsets == {2: record.offset + 1}
    assert sink[0].rejection.reason is Reason.STORE_REFUSED
    assert store.t.positions[TOPIC, 2] == record.offset + 1


async def test_random_casework_on_six_partitions_folds_to_the_plain_calculation() -> None:
    """Partitioned by council, read in batches that interleave the partitions at random."""
    codes = ["AAA", "BBB", "CCC", "DDD"]
    events = list(random_casework(codes, 400, seed=18))
    store, log = MemoryProjectionStore(), Log()
    part = {c: i for i, c in enumerate(codes)}
    await project(store, [log.record(council(c, "District"), part[c]) for c in codes])
    records = [log.record(e, part[str(e.council)]) for e in events]
    rng = random.Random(18)
    rng.shuffle(records)  # each partition's records still sorted by the batch step
    by_offset = sorted(records, key=lambda r: (r.partition, r.offset))
    batches: dict[int, list[FakeRecord]] = {}
    for r in by_offset:  # a batch holds a run of each partition, as a consumer fetches
        batches.setdefault(r.offset // 37, []).append(r)
    for _, batch in sorted(batches.items()):
        rng.shuffle(batch)
        await project(store, batch)
    for (code, year), counts in expected_figures(events).items():
        got = store.figures(code, year)
        assert {k: got.get(k, 0) for k in counts} == counts, (code, year)
