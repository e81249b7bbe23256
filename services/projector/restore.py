"""The read models built again from the log into an empty database (``annual-review
restore``, services/cli/restore.py): the rebuild's fold (rebuild.py) from offset 0 to the
facts topic's end, then the dead letters' ids taken from the dead-letter topic (each copy's
offset + 1, dead_letter_topic.py) and the operators' decisions on them put back from the
audit trail, and the version switched on. Nothing is published.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition

from contracts.topics import FACTS
from services.platform.kafka.security import client_kwargs
from services.platform.kafka.topic_reader import TopicRecord
from services.platform.settings import Settings
from services.projector.config import ProjectorSettings
from services.projector.dead_letter_topic import dead_letter_id
from services.projector.rebuild import RebuildProgress, fold_until
from services.readmodel.dead_letters import apply_decision, renumber_dead_letters
from services.readmodel.versions import (
    act_as_read_model_owner,
    activate,
    create_version,
    schema_of,
    take_switch_lock,
)


@dataclass(frozen=True, slots=True)
class ReadModelsRestored:
    version: int
    events: int
    dead_letters: int  # whose id came from the dead-letter topic


async def end_offsets(settings: Settings) -> dict[int, int]:
    """Where the facts topic ends now, per partition: what the restore folds up to."""
    consumer = AIOKafkaConsumer(**client_kwargs(settings), enable_auto_commit=False)
    await consumer.start()
    try:
        topic = settings.topic(FACTS)
        found = consumer.partitions_for_topic(topic) or set(range(FACTS.partitions))
        tps = [TopicPartition(topic, p) for p in sorted(found)]
        return {tp.partition: o for tp, o in (await consumer.end_offsets(tps)).items()}
    finally:
        await consumer.stop()


def copies(records: Sequence[TopicRecord]) -> list[tuple[str, int, int, int]]:
    """(original topic, partition, offset, id) of each copy on the dead-letter topic."""
    found = []
    for r in records:
        h = {k: v.decode("utf-8", "replace") for k, v in r.headers}
        try:
            found.append((
                h["original-topic"], int(h["original-partition"]), int(h["original-offset"]),
                dead_letter_id(r.offset),
            ))  # fmt: skip
        except (KeyError, ValueError):
            continue  # not a copy the projector made: no dead letter of the table is it
    return found


class DeadLetterDecision(Protocol):
    """An operator's decision on a dead letter, as the audit trail records it
    (services/audit/trail.py, ``dead_letter_decisions``)."""

    @property
    def dead_id(self) -> int: ...
    @property
    def status(self) -> str: ...  # redriven | resolved
    @property
    def note(self) -> str | None: ...
    @property
    def at(self) -> datetime: ...


async def restore_read_models(
    settings: Settings,
    psettings: ProjectorSettings,
    conn: asyncpg.Connection,
    dead_letter_copies: Sequence[TopicRecord],
    *,
    decisions: Sequence[DeadLetterDecision] = (),
    workers: int = 1,
    on_progress: Callable[[RebuildProgress], None] = lambda _: None,
) -> ReadModelsRestored:
    """A new version folded from the whole facts topic, its dead letters numbered as the
    dead-letter topic numbers them, made the active one."""
    targets = await end_offsets(settings)
    version = await create_version(conn, "building")
    schema = schema_of(version)
    progress = await fold_until(
        settings, psettings, conn, schema, targets, workers=workers, on_progress=on_progress
    )
    async with conn.transaction():
        await act_as_read_model_owner(conn)
        await take_switch_lock(conn)
        numbered = await renumber_dead_letters(conn, schema, copies(dead_letter_copies))
        for d in decisions:
            await apply_decision(conn, schema, d.dead_id, d.status, d.note, d.at)
        await activate(conn, version, schema)
    return ReadModelsRestored(version, progress.applied, numbered)
