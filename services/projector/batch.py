"""One batch of records, one transaction: the projector's exactly-once step.

In a single transaction of the projection's store: lock the partitions' stored positions,
drop records below them (redelivered), drop events already applied on their partition
(producer retries), fold each partition's records in its log order (``fold.apply`` reads
and writes that partition's rows only, so the read order of partitions does not matter),
merge the register entries the batch's registry facts change, write the changes, the dead
letters and the new positions. If anything fails the transaction rolls back and nothing
moved: the same records are applied again.

The store is PostgreSQL (a connection and a read-model schema) or any ``ProjectionStore``
(projection_store.py; the unit tests' is in memory): the steps here are the same on both.
"""

from __future__ import annotations

import contextlib
import gc
import re
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import structlog

from contracts.codec import Reason, RejectedMessage, decode
from contracts.envelope import Envelope
from contracts.events import (
    DECISION_EVENTS,
    ComplianceOutcomeRecorded,
    DecisionCorrected,
    DecisionRecorded,
    FinancialYearClosed,
    Payload,
)
from contracts.financial_year import FinancialYear
from services.domain.fold import WorkingSet, apply, start_year_of
from services.domain.register import merge_all
from services.domain.statistics import AveragingRule
from services.platform.db import Conn
from services.platform.office_signature import OfficeAuthority
from services.projector.projection_store import ProjectionStore
from services.projector.records import DeadLetter, DeadLetterSink, Record
from services.projector.year_end import close_partition, refresh_snapshots
from services.readmodel.projection import PgProjectionStore

# Record, DeadLetter and DeadLetterSink are the batch step's types: importable from here.
__all__ = [
    "BatchResult", "DeadLetter", "DeadLetterSink", "Record", "project_batch", "refuse_record",
    "store_refused",
]  # fmt: skip

log = structlog.get_logger(__name__)

_SCHEMA = re.compile(r"^rm_v\d+$")


@dataclass(slots=True)
class BatchResult:
    applied: int = 0
    skipped_redelivered: int = 0
    skipped_duplicate: int = 0
    dead_lettered: int = 0
    late: int = 0
    years_completed: list[str] = field(default_factory=list)
    next_offsets: dict[int, int] = field(default_factory=dict)
    last_event_at: datetime | None = None


def _store(target: Conn | ProjectionStore, schema: str) -> ProjectionStore:
    """A connection is the read models of ``schema`` on PostgreSQL."""
    if not _SCHEMA.match(schema):
        raise ValueError(f"not a read-model schema: {schema!r}")
    return target if isinstance(target, ProjectionStore) else PgProjectionStore(target, schema)


async def project_batch(
    conn: Conn | ProjectionStore,
    schema: str,
    records: Sequence[Record],
    *,
    rule: AveragingRule,
    dead_letter_sink: DeadLetterSink | None,
    authority: OfficeAuthority,
) -> BatchResult:
    """Apply ``records`` (all of one topic, any partitions) to the read models in ``schema``.
    An office event (the close, the register) counts only when ``authority`` verifies its
    signature; otherwise it is a dead letter (``not_authorised``), like a message that does
    not decode: it claims no event id and changes nothing, live and in a rebuild alike."""
    store = _store(conn, schema)
    result = BatchResult()
    if not records:
        return result
    topic = records[0].topic
    by_partition: dict[int, list[Record]] = defaultdict(list)
    for r in records:
        by_partition[r.partition].append(r)

    with _gc_paused():
        async with store.transaction():
            stored = await store.lock_positions(topic, sorted(by_partition))
            fresh: list[tuple[Record, Envelope[Payload] | RejectedMessage]] = []
            for partition, recs in sorted(by_partition.items()):
                for r in sorted(recs, key=lambda r: r.offset):
                    if r.offset < stored[partition]:
                        result.skipped_redelivered += 1
                        continue
                    try:
                        event = decode(r.value)
                        authority.check(event, r.value, r.headers)
                        fresh.append((r, event))
                    except RejectedMessage as rejection:
                        fresh.append((r, rejection))
            if not fresh:
                return result

            events = [(r, e) for r, e in fresh if not isinstance(e, RejectedMessage)]
            # Claimed now, per partition: what the claim finds already there was applied
            # before; the claims not then applied (refused by the fold) are released below.
            claims = [(e.event_id, r.partition, e.council, _year_of(e)) for r, e in events]
            seen = await store.claim_applied(claims)
            applied_before = set(seen)
            ws = await store.load_working_set(
                cases=[e.data.case_reference for _, e in events if _is(e.data, _CASEWORK)],  # type: ignore[attr-defined]
            )
            applied: list[tuple[UUID, int]] = []
            dead: list[DeadLetter] = []
            registered: set[str] = set()
            last_at: datetime | None = None

            for record, item in fresh:
                if isinstance(item, RejectedMessage):
                    dead.append(DeadLetter(record, item))
                    continue
                claim = (item.event_id, record.partition)
                if claim in seen:
                    result.skipped_duplicate += 1
                    continue
                seen.add(claim)
                last_at = item.occurred_at
                if _is(item.data, FinancialYearClosed):
                    # The cut must see exactly the facts before the marker: write them first.
                    result.late += len(ws.late)
                    registered |= await _write(store, ws, last_at)
                    close: Envelope[FinancialYearClosed] = item  # type: ignore[assignment]
                    if await close_partition(store, close, record.partition, record.offset, rule):
                        result.years_completed.append(str(close.data.financial_year))
                    ws.cut_years.setdefault(record.partition, set()).add(
                        close.data.financial_year.start_year
                    )
                    applied.append(claim)
                    continue
                try:
                    apply(ws, item, record.partition, record.offset)
                except RejectedMessage as rejection:
                    seen.discard(claim)  # not applied: a fixed re-drive must not be a duplicate
                    dead.append(DeadLetter(record, rejection))
                    continue
                applied.append(claim)

            result.late += len(ws.late)
            registered |= await _write(store, ws, last_at)
            # A council registered (or changed) after a year completed: its rows of that
            # year's snapshot (a council that joined after the close, a population since).
            await refresh_snapshots(store, registered)
            not_applied = {(e.event_id, r.partition) for r, e in events} - applied_before
            await store.unclaim_applied(sorted(not_applied - set(applied)))
            if dead:
                # Published before commit: a crash here re-publishes (at least once), and the
                # table's unique (topic, partition, offset) is the dedup key for readers. The
                # copies' offsets are the dead letters' ids.
                ids = await dead_letter_sink(dead) if dead_letter_sink is not None else None
                await store.insert_dead_letters(_rows(dead, ids))
            next_offsets = {
                p: max(stored[p], max(r.offset for r in recs) + 1)
                for p, recs in by_partition.items()
            }
            await store.advance_positions(topic, {p: (o, last_at) for p, o in next_offsets.items()})
            result.applied = len(applied)
            result.dead_lettered = len(dead)
            result.next_offsets = next_offsets
            result.last_event_at = last_at or datetime.now(UTC)
    for d in dead:
        log.warning(
            "dead-lettered",
            topic=d.record.topic, partition=d.record.partition, offset=d.record.offset,
            reason=d.rejection.reason.value, detail=d.rejection.detail[:300],
            council=d.rejection.council,
        )  # fmt: skip
    return result


async def refuse_record(
    conn: Conn | ProjectionStore,
    schema: str,
    record: Record,
    error: BaseException,
    *,
    dead_letter_sink: DeadLetterSink | None,
) -> BatchResult:
    """Dead-letter one record the database refused to store (``store_refused``, with the
    database's error) and move its partition's position past it; nothing of it is applied.
    In the caller's transaction if there is one, else in its own (as ``project_batch``)."""
    store = _store(conn, schema)
    result = BatchResult()
    async with store.transaction():
        p = record.partition
        stored = await store.lock_positions(record.topic, [p])
        if record.offset < stored[p]:  # applied or refused already (another instance)
            result.skipped_redelivered = 1
            result.next_offsets = {p: stored[p]}
            return result
        dead = [DeadLetter(record, store_refused(record, error))]
        ids = await dead_letter_sink(dead) if dead_letter_sink is not None else None
        await store.insert_dead_letters(_rows(dead, ids))
        await store.advance_positions(record.topic, {p: (record.offset + 1, None)})
    result.dead_lettered = 1
    result.next_offsets = {p: record.offset + 1}
    result.last_event_at = datetime.now(UTC)
    log.error(
        "dead-lettered: the database refused to store this record",
        topic=record.topic, partition=p, offset=record.offset, reason=Reason.STORE_REFUSED.value,
        detail=dead[0].row()["detail"][:300],
    )  # fmt: skip
    return result


def store_refused(record: Record, error: BaseException) -> RejectedMessage:
    """The rejection of a record the database refused: what the event says of itself, and
    the database's error (with its SQLSTATE) as the detail."""
    code = getattr(error, "sqlstate", None)
    detail = (
        "the database refused to store this event"
        + (f" (SQLSTATE {code})" if code else "")
        + f": {type(error).__name__}: {error}"
    )
    try:
        event = decode(record.value)
    except RejectedMessage as rejection:  # not expected: the contract accepted it before
        return RejectedMessage(
            Reason.STORE_REFUSED, detail, event_id=rejection.event_id,
            event_type=rejection.event_type, council=rejection.council,
            financial_year=rejection.financial_year,
        )  # fmt: skip
    year = _year_of(event)
    return RejectedMessage(
        Reason.STORE_REFUSED, detail, event_id=str(event.event_id), event_type=event.type,
        council=event.council, financial_year=FinancialYear(year) if year is not None else None,
    )  # fmt: skip


async def _write(store: ProjectionStore, ws: WorkingSet, last_at: datetime | None) -> set[str]:
    """Write what the fold changed: the registry facts and the register entries merged
    again from them (the register merge, services/domain/register.py), the casework, and
    the parking of casework whose council is not registered (released when it is). Returns
    the councils whose register entry was merged again."""
    registered: set[str] = set()
    if ws.facts:
        await store.store_facts(ws.facts)
        merged = merge_all(await store.council_facts(sorted({f.council for f in ws.facts})))
        await store.write_register(merged)
        registered = set(merged)
    await store.write_casework(ws, last_at)
    if ws.folded:
        known = await store.registered(
            sorted({f.event.council for f in ws.folded if f.event.council})
        )
        await store.park([f for f in ws.folded if f.event.council not in known])
    await store.release_parked(sorted(registered))
    ws.take_changes()
    return registered


_CASEWORK = (*DECISION_EVENTS, ComplianceOutcomeRecorded)
_DECIDED = (DecisionRecorded, DecisionCorrected)


def _year_of(event: Envelope[Payload]) -> int | None:
    """The financial year an event counts in, where it says (cross_partition_duplicates)."""
    p = event.data
    if _is(p, _DECIDED):
        return start_year_of(p.decision_date)  # type: ignore[attr-defined]
    if _is(p, ComplianceOutcomeRecorded):
        return start_year_of(p.recorded_on)  # type: ignore[attr-defined]
    return None


_KINDS: dict[tuple[type, Any], bool] = {}


def _is(payload: Payload, kinds: Any) -> bool:
    """isinstance, remembered per class: pydantic models' ABC isinstance is slow per event."""
    key = (type(payload), kinds)
    known = _KINDS.get(key)
    if known is None:
        known = _KINDS[key] = isinstance(payload, kinds)
    return known


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection during a batch. Decoding and folding thousands of events
    allocates millions of short-lived objects that reference counting frees; the collector
    walking them again and again cost a third of the batch time. It runs again after."""
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


def _rows(dead: Sequence[DeadLetter], ids: Sequence[int] | None) -> list[dict[str, Any]]:
    """The dead letters' rows, with their ids when the copies were published."""
    if ids is None:
        return [d.row() for d in dead]
    return [{**d.row(), "id": i} for d, i in zip(dead, ids, strict=True)]
