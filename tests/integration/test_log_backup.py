"""Losing the log: a year of casework (the office's signed register and close, refused input,
letter events) exported, the topics deleted and recreated empty, the backup imported, and
the figures rebuilt from the restored log equal the ones made from the original."""

from __future__ import annotations

import json
import time
from datetime import date
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from contracts.topics import FACTS, LETTERS
from services.platform.kafka.admin import dynamic_topic_config
from services.platform.kafka.backup import (
    BackupError,
    BackupRecord,
    Manifest,
    export_log,
    import_log,
    read_partition,
)
from services.platform.kafka.security import client_kwargs, sasl_kwargs
from services.platform.settings import Settings, as_principal
from services.projector.config import ProjectorSettings
from services.projector.rebuild import rebuild
from tests.support.casework import council, decided, expected_figures, random_casework
from tests.support.stack import Stack, recreate_topics

PROJECTOR = "services.projector"


async def _close_2019(stack: Stack) -> None:
    async with stack.publisher() as p:
        await p.close_year(
            {
                "financial_year": "2019-20",
                "letter_date": "2020-07-22",
                "publication_date": "2020-07-29",
                "signatory": {"name": "Michael King", "titles": ["Ombudsman"]},
            },
            producer="tests",
        )


async def _letter_events(settings: Settings) -> None:
    """Records on the letters topic with headers, as the letter service writes them."""
    producer = AIOKafkaProducer(**client_kwargs(settings), acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for i in range(3):
            await producer.send_and_wait(
                settings.topic(LETTERS),
                json.dumps({"type": "LetterIssued", "n": i}).encode(),
                key=b"B01",
                headers=[("event-type", b"LetterIssued"), ("binary", bytes(range(256)))],
            )
    finally:
        await producer.stop()


def _records(directory: Path, manifest: Manifest) -> dict[str, list[BackupRecord]]:
    return {p.file: list(read_partition(directory, p)) for p in manifest.partitions}


def _as_given(r: BackupRecord) -> tuple[object, ...]:
    return (r.offset, r.timestamp, r.key, r.value, r.headers)


async def test_the_log_exported_lost_and_imported_gives_the_same_figures(
    stack: Stack, tmp_path: Path
) -> None:
    councils = [f"L{i:02d}" for i in range(12)]
    events = [council(c, "District" if i % 2 else "Unitary") for i, c in enumerate(councils)]
    events += list(random_casework(councils, 3_000, seed=31, years=(2019,)))
    late = list(random_casework(councils, 300, seed=32, years=(2019,)))
    stack.start(PROJECTOR)
    await stack.publish(events)
    refused = json.dumps({"not": "an event"}).encode()
    await stack.publish_raw([(b"L01", b"this is not json"), (b"L02", refused)])
    await _close_2019(stack)
    await stack.publish([*late, decided("ZZZ", "Z1", date(2019, 6, 1), "upheld")])
    await _letter_events(stack.settings)
    await stack.wait_caught_up()
    stack.services[0].kill()  # the live figures stay as the original log made them

    before_stats = await stack.stats()
    assert before_stats == expected_figures(events + late)
    dead = 'SELECT reason, topic, partition, "offset", value FROM readmodel.dead_letters'
    before_dead = sorted(tuple(r) for r in await stack.fetch(dead))
    assert len(before_dead) == 2

    # The backup, as the operator (least privilege: READ on every topic, no WRITE).
    first = tmp_path / "backup"
    started = time.monotonic()
    manifest = await export_log(as_principal(stack.settings, "operator"), first)
    export_s = time.monotonic() - started
    assert manifest.records == sum(p.end for p in manifest.partitions), (
        "every record from offset 0 to the end"
    )
    assert all(p.keeps_offsets for p in manifest.partitions)
    exported = _records(first, manifest)
    signed = [r for rs in exported.values() for r in rs if "office-signature" in dict(r.headers)]
    assert len(signed) == len(councils) + 6 + 1  # the register, a marker a partition, year-end

    # The operator may not restore: writing every topic is the admin's.
    await recreate_topics(stack.settings)
    with pytest.raises(Exception, match=r"(?i)authoriz"):
        await import_log(as_principal(stack.settings, "operator"), first)

    started = time.monotonic()
    report = await import_log(stack.settings, first)
    import_s = time.monotonic() - started
    assert (report.records, report.renumbered) == (manifest.records, [])

    # The restored log is the exported one, record by record: offsets, timestamps (the facts'
    # original append times, which `stats --as-of` reads), keys, values and headers (the
    # office's signatures) byte for byte. Only the facts' timestamp type differs: a producer
    # cannot write "append time", so they come back as the same times given by the import.
    second = tmp_path / "again"
    again = await export_log(as_principal(stack.settings, "operator"), second)
    restored = _records(second, again)
    assert {f: [_as_given(r) for r in rs] for f, rs in restored.items()} == {
        f: [_as_given(r) for r in rs] for f, rs in exported.items()
    }
    facts = [r for f, rs in exported.items() if f.startswith(FACTS.name) for r in rs]
    assert facts and all(r.timestamp_type == 1 for r in facts)  # LogAppendTime when exported
    facts_config = await dynamic_topic_config(
        stack.settings.kafka_bootstrap, stack.settings.topic(FACTS), **sasl_kwargs(stack.settings)
    )
    assert facts_config["message.timestamp.type"] == "LogAppendTime"  # put back after the import
    assert [p.sha256 for p in again.partitions if p.topic != FACTS.name] == [
        p.sha256 for p in manifest.partitions if p.topic != FACTS.name
    ]

    # A second import is refused: the topics are no longer empty.
    with pytest.raises(BackupError, match="not empty"):
        await import_log(stack.settings, first)

    # The figures rebuilt from the restored log: identical to the live ones, table by table
    # (the register and the close verified again: without them nothing would match).
    rebuilt = await rebuild(stack.settings, ProjectorSettings(max_records=2000))
    assert rebuilt is not None and rebuilt.identical and rebuilt.switched, rebuilt
    assert await stack.stats() == before_stats
    assert sorted(tuple(r) for r in await stack.fetch(dead)) == before_dead
    (close,) = await stack.fetch("SELECT completed_at FROM readmodel.year_closes")
    assert close["completed_at"] is not None
    print(
        f"\nlog backup: {manifest.records} records, {manifest.bytes} bytes; "
        f"export {export_s:.2f} s, import {import_s:.2f} s"
    )


async def test_a_topic_with_gaps_is_imported_in_order_and_renumbered(
    stack: Stack, tmp_path: Path
) -> None:
    """Transactional commit markers take offsets but are not records: such a partition cannot
    keep its offsets in an idempotent, non-transactional import; it keeps its order."""
    topic = stack.settings.topic(LETTERS)
    producer = AIOKafkaProducer(
        **client_kwargs(stack.settings), transactional_id=f"{topic}-gaps", acks="all"
    )
    await producer.start()
    try:
        for i in range(3):
            async with producer.transaction():
                await producer.send_and_wait(topic, b"v%d" % i, key=b"K", partition=0)
    finally:
        await producer.stop()
    manifest = await export_log(stack.settings, tmp_path / "b")
    (part,) = [p for p in manifest.partitions if p.topic == LETTERS.name and p.partition == 0]
    assert (part.records, part.end, part.consecutive) == (3, 6, False)  # 0, 2, 4 + markers

    await recreate_topics(stack.settings)
    report = await import_log(stack.settings, tmp_path / "b")
    assert report.renumbered == [f"{LETTERS.name}/0"]
    again = await export_log(stack.settings, tmp_path / "c")
    (back,) = [p for p in again.partitions if p.topic == LETTERS.name and p.partition == 0]
    values = [r.value for r in read_partition(tmp_path / "c", back)]
    assert values == [b"v0", b"v1", b"v2"] and back.consecutive and back.end == 3
