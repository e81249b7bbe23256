"""A backup of the log that survives the cluster: every topic of contracts/topics.py, every
record with its offset, timestamp, key, value and headers, in files outside Kafka.

The format (``FORMAT``), chosen to be read in ten years with nothing but gzip and a JSON
parser: a folder with one gzip-compressed JSON-lines file per partition,
``<topic>/<partition>.jsonl.gz`` (the topic's declared name, without the installation's
``AR_TOPIC_PREFIX``: a backup can be restored under another prefix), one record a line::

    {"offset": 41, "timestamp": 1591000000000, "timestamp_type": 0,
     "key": "TUFO", "value": "eyJldmVudF9pZCI6...", "headers": [["event-type", "Q291..."]]}

key, value and each header's value in base64 (bytes, byte for byte: the office's signature
is a header over the value's exact bytes), ``null`` for a missing key or value. The
``manifest.json`` is written last, so a folder without one is an unfinished export; it gives
each partition's positions (``start``: the earliest offset, ``end``: the end offset when the
export began), its record count, whether its offsets were consecutive, and the file's size
and sha256.

The import writes each partition's records in order, to the same partition, with the idempotent
producer and no transactions, into topics that exist and are empty (``make up`` creates them):
on such a topic the broker gives offsets 0, 1, 2, ... so a partition exported from offset 0
without gaps lands at exactly its original offsets, and the import checks that it does. A
partition whose offsets were not consecutive (records deleted before the export, or a
transactional producer's commit markers, which take an offset but are not records) cannot keep
them: its records are written in the same order and renumbered from 0, and the report says
which partitions were (docs/operations.md, "Backing up the log").
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import hashlib
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from contracts.topics import LETTERS_MAX_MESSAGE_BYTES, TOPICS, TopicSpec
from services.platform.kafka.admin import (
    dynamic_topic_config,
    partitions_of,
    replace_topic_config,
)
from services.platform.kafka.security import client_kwargs, sasl_kwargs
from services.platform.settings import Settings

FORMAT = "annual-review-log-backup/1"
MANIFEST = "manifest.json"
FETCH_TIMEOUT_MS = 1_000
STALL_S = 60.0  # an export that reads nothing for this long stops with an error
# Records sent before their acknowledgements are awaited and their offsets checked: enough to
# keep the producer's batches full, few enough to stop soon after a wrong offset.
IMPORT_WINDOW = 5_000
TIMESTAMP_TYPES = {0: "CreateTime", 1: "LogAppendTime"}

Progress = Callable[[int], None]  # called with how many more records (or bytes) are done


class BackupError(Exception):
    """The backup cannot be written or restored; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class BackupRecord:
    offset: int
    timestamp: int
    timestamp_type: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()


@dataclass(frozen=True, slots=True)
class PartitionFile:
    topic: str  # the declared name, without prefix
    partition: int
    start: int  # the earliest offset when the export began
    end: int  # the end offset when the export began: records [start, end) are in the file
    records: int
    consecutive: bool  # offsets start, start+1, ..., end-1: the import can keep them
    file: str  # relative to the backup folder
    bytes: int
    sha256: str

    @property
    def keeps_offsets(self) -> bool:
        """Imported into an empty topic, every record lands at its original offset."""
        return self.consecutive and self.start == 0


@dataclass(frozen=True, slots=True)
class Manifest:
    format: str
    exported_at: str
    topic_prefix: str  # where it was exported from, for the record
    partitions: tuple[PartitionFile, ...]

    @property
    def records(self) -> int:
        return sum(p.records for p in self.partitions)

    @property
    def bytes(self) -> int:
        return sum(p.bytes for p in self.partitions)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        raw = json.loads(text)
        if raw.get("format") != FORMAT:
            raise BackupError(f"not a backup this version can read: format {raw.get('format')!r}")
        return cls(
            format=raw["format"],
            exported_at=raw["exported_at"],
            topic_prefix=raw["topic_prefix"],
            partitions=tuple(PartitionFile(**p) for p in raw["partitions"]),
        )


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode("ascii")


def _unb64(text: str | None) -> bytes | None:
    return None if text is None else base64.b64decode(text, validate=True)


def record_line(record: BackupRecord) -> bytes:
    """One record as one line of the partition file."""
    return (
        json.dumps(
            {
                "offset": record.offset,
                "timestamp": record.timestamp,
                "timestamp_type": record.timestamp_type,
                "key": _b64(record.key),
                "value": _b64(record.value),
                "headers": [[name, _b64(value)] for name, value in record.headers],
            },
            separators=(",", ":"),
        ).encode()
        + b"\n"
    )


def parse_line(line: bytes) -> BackupRecord:
    raw = json.loads(line)
    return BackupRecord(
        offset=raw["offset"],
        timestamp=raw["timestamp"],
        timestamp_type=raw["timestamp_type"],
        key=_unb64(raw["key"]),
        value=_unb64(raw["value"]),
        headers=tuple((name, _unb64(value) or b"") for name, value in raw["headers"]),
    )


def read_partition(directory: Path, part: PartitionFile) -> Iterator[BackupRecord]:
    with gzip.open(directory / part.file, "rb") as lines:
        for line in lines:
            yield parse_line(line)


def file_sha256(path: Path, on_bytes: Progress | None = None) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
            if on_bytes:
                on_bytes(len(chunk))
    return digest.hexdigest()


def read_manifest(directory: Path) -> Manifest:
    path = directory / MANIFEST
    if not path.is_file():
        raise BackupError(
            f"{path} is missing: not a backup, or an export that did not finish (the manifest "
            "is written last)"
        )
    return Manifest.from_json(path.read_text())


def verify(directory: Path, on_bytes: Progress | None = None) -> Manifest:
    """The manifest, once every file it names has its recorded size and sha256."""
    manifest = read_manifest(directory)
    declared = {spec.name for spec in TOPICS}
    bad: list[str] = []
    for part in manifest.partitions:
        path = directory / part.file
        if part.topic not in declared:
            bad.append(f"{part.file}: topic {part.topic!r} is not one of contracts/topics.py")
        elif not path.is_file():
            bad.append(f"{part.file}: missing")
        elif path.stat().st_size != part.bytes:
            bad.append(f"{part.file}: {path.stat().st_size} bytes, the manifest says {part.bytes}")
        elif file_sha256(path, on_bytes) != part.sha256:
            bad.append(f"{part.file}: sha256 differs from the manifest's")
    if bad:
        raise BackupError("the backup is damaged, nothing was written: " + "; ".join(bad))
    return manifest


def _consumer(settings: Settings) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        **client_kwargs(settings),
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        request_timeout_ms=30_000,
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )


async def _positions(
    consumer: AIOKafkaConsumer, parts: list[TopicPartition]
) -> tuple[dict[TopicPartition, int], dict[TopicPartition, int]]:
    return await consumer.beginning_offsets(parts), await consumer.end_offsets(parts)


def _declared_partitions(settings: Settings) -> dict[TopicPartition, TopicSpec]:
    return {
        TopicPartition(settings.topic(spec), p): spec
        for spec in TOPICS
        for p in range(spec.partitions)
    }


def _new_folder(directory: Path) -> None:
    if directory.exists() and any(directory.iterdir()):
        raise BackupError(f"{directory} is not empty: export into a new folder")
    # Owner-only: the files hold every event in clear (docs/security.md).
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)


async def export_log(
    settings: Settings, directory: Path, *, on_records: Progress | None = None,
    on_total: Callable[[int], None] | None = None,
) -> Manifest:  # fmt: skip
    """Write every partition of every declared topic, from its earliest offset to its end
    offset when the export begins, into ``directory`` (which must be empty or new)."""
    _new_folder(directory)
    wanted = _declared_partitions(settings)
    consumer = _consumer(settings)
    await consumer.start()
    try:
        parts = sorted(wanted, key=lambda tp: (tp.topic, tp.partition))
        consumer.assign(parts)
        starts, ends = await _positions(consumer, parts)
        if on_total:
            on_total(sum(ends[tp] - starts[tp] for tp in parts))
        exported_at = datetime.now(UTC).isoformat(timespec="seconds")
        files = [
            await _export_partition(
                consumer, tp, wanted[tp], starts[tp], ends[tp], directory, on_records
            )
            for tp in parts
        ]
    finally:
        await consumer.stop()
    manifest = Manifest(FORMAT, exported_at, settings.topic_prefix, tuple(files))
    # Written last and renamed into place: a manifest means a finished export.
    temporary = directory / (MANIFEST + ".part")
    temporary.touch(mode=0o600)
    temporary.write_text(manifest.to_json())
    os.replace(temporary, directory / MANIFEST)
    return manifest


async def _export_partition(
    consumer: AIOKafkaConsumer,
    tp: TopicPartition,
    spec: TopicSpec,
    start: int,
    end: int,
    directory: Path,
    on_records: Progress | None,
) -> PartitionFile:
    relative = f"{spec.name}/{tp.partition}.jsonl.gz"
    path = directory / relative
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.touch(mode=0o600)
    count, expected, consecutive = 0, start, True
    # Only this partition is fetched: its file is written in one go, in offset order.
    others = [p for p in consumer.assignment() if p != tp]
    consumer.pause(*others)
    consumer.resume(tp)
    consumer.seek(tp, start)
    # mtime=0: the same records give the same bytes, so the same sha256.
    clock = asyncio.get_running_loop().time
    stalled_at = clock() + STALL_S
    with path.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as out:
        while end > start and await consumer.position(tp) < end:
            if clock() > stalled_at:
                raise BackupError(f"{tp.topic}/{tp.partition}: nothing read for {STALL_S:.0f} s")
            batch = await consumer.getmany(tp, timeout_ms=FETCH_TIMEOUT_MS, max_records=10_000)
            if batch:
                stalled_at = clock() + STALL_S
            lines = []
            for r in batch.get(tp, []):
                if r.offset >= end:
                    break
                consecutive = consecutive and r.offset == expected
                expected = r.offset + 1
                lines.append(
                    record_line(
                        BackupRecord(
                            r.offset, r.timestamp, r.timestamp_type, r.key, r.value,
                            tuple((name, bytes(value)) for name, value in r.headers),
                        )
                    )
                )  # fmt: skip
            out.writelines(lines)
            count += len(lines)
            if on_records and lines:
                on_records(len(lines))
    consecutive = consecutive and expected == end  # no gap at the end either (a marker)
    return PartitionFile(
        topic=spec.name,
        partition=tp.partition,
        start=start,
        end=end,
        records=count,
        consecutive=consecutive,
        file=relative,
        bytes=path.stat().st_size,
        sha256=file_sha256(path),
    )


@dataclass
class ImportReport:
    records: int = 0
    partitions: int = 0
    renumbered: list[str] = field(default_factory=list)  # "<topic>/<partition>"


async def _check_empty_targets(settings: Settings, manifest: Manifest) -> None:
    """Every topic of the backup exists here with the backup's partitions, and is empty."""
    consumer = _consumer(settings)
    await consumer.start()
    try:
        by_topic: dict[str, set[int]] = {}
        for part in manifest.partitions:
            by_topic.setdefault(part.topic, set()).add(part.partition)
        problems: list[str] = []
        targets: list[TopicPartition] = []
        for name, partitions in sorted(by_topic.items()):
            topic = settings.topic_prefix + name
            have = set(
                await partitions_of(settings.kafka_bootstrap, topic, **sasl_kwargs(settings))
            )
            if not have:
                problems.append(f"{topic} does not exist (or this principal may not see it)")
            elif not partitions <= have:
                problems.append(
                    f"{topic} has partitions {sorted(have)}, the backup {sorted(partitions)}"
                )
            else:
                targets += [TopicPartition(topic, p) for p in sorted(partitions)]
        if problems:
            raise BackupError(
                "the topics are not ready: " + "; ".join(problems) + " (`make up` creates them)"
            )
        ends = await consumer.end_offsets(targets)
        used = sorted({tp.topic for tp, end in ends.items() if end > 0})
        if used:
            raise BackupError(
                f"refusing to import into topics that are not empty: {', '.join(used)}; "
                "a backup is restored into an empty cluster only (docs/operations.md)"
            )
    finally:
        await consumer.stop()


async def import_log(
    settings: Settings,
    directory: Path,
    *,
    manifest: Manifest | None = None,
    on_records: Progress | None = None,
) -> ImportReport:
    """Write the backup in ``directory`` (``verify``'d first unless its ``manifest`` is given:
    the caller verified it) into the settings' topics, which must exist and be empty."""
    manifest = manifest or verify(directory)
    await _check_empty_targets(settings, manifest)
    producer = AIOKafkaProducer(
        **client_kwargs(settings),
        acks="all",
        enable_idempotence=True,  # a retried batch is written once: no duplicate, no gap
        linger_ms=20,
        max_batch_size=1024 * 1024,
        # A letter's rendering is one record of up to LETTERS_MAX_MESSAGE_BYTES (the letters
        # topic's max.message.bytes, contracts/topics.py), written back whole.
        max_request_size=LETTERS_MAX_MESSAGE_BYTES + 1024 * 1024,
        compression_type="gzip",
        request_timeout_ms=60_000,
    )
    report = ImportReport()
    # A topic stamped with the broker's append time (the facts: `stats --as-of` reads it)
    # would stamp every imported record with the moment of the import: while importing it
    # takes the times written in the backup, which are the original append times.
    restamped = await _take_given_timestamps(settings, manifest)
    await producer.start()
    try:
        for part in manifest.partitions:
            written = await _import_partition(producer, settings, directory, part, on_records)
            report.records += written
            report.partitions += 1
            if not part.keeps_offsets and part.records:
                report.renumbered.append(f"{part.topic}/{part.partition}")
    finally:
        await producer.stop()
        for topic, config in restamped.items():
            await replace_topic_config(
                settings.kafka_bootstrap, topic, config, **sasl_kwargs(settings)
            )
    return report


async def _take_given_timestamps(
    settings: Settings, manifest: Manifest
) -> dict[str, dict[str, str]]:
    """Switch the backup's append-time topics to the producer's timestamps; returns each
    one's own settings as they were, to be put back."""
    names = {part.topic for part in manifest.partitions}
    before: dict[str, dict[str, str]] = {}
    for spec in TOPICS:
        if spec.name not in names or spec.config.get(TIMESTAMP_TYPE) != "LogAppendTime":
            continue
        topic = settings.topic(spec)
        config = await dynamic_topic_config(
            settings.kafka_bootstrap, topic, **sasl_kwargs(settings)
        )
        await replace_topic_config(
            settings.kafka_bootstrap, topic, {**config, TIMESTAMP_TYPE: "CreateTime"},
            **sasl_kwargs(settings),
        )  # fmt: skip
        before[topic] = config
    return before


TIMESTAMP_TYPE = "message.timestamp.type"


async def _import_partition(
    producer: AIOKafkaProducer,
    settings: Settings,
    directory: Path,
    part: PartitionFile,
    on_records: Progress | None,
) -> int:
    topic = settings.topic_prefix + part.topic
    written = 0
    window: list[tuple[int, asyncio.Future[Any]]] = []

    async def settle() -> None:
        nonlocal written
        for expected, sent in window:
            landed = (await sent).offset
            # The import's promise: same partition, same offset. Renumbered partitions
            # (keeps_offsets false) land at their place in the file's order.
            if landed != expected:
                raise BackupError(
                    f"{topic}/{part.partition}: a record of offset {expected} landed at "
                    f"{landed}; the topic was written to during the import, or was not empty; "
                    "delete and recreate the topics before importing again"
                )
        written += len(window)
        if on_records:
            on_records(len(window))
        window.clear()

    for index, record in enumerate(read_partition(directory, part)):
        sent = await producer.send(
            topic,
            record.value,
            key=record.key,
            partition=part.partition,
            timestamp_ms=record.timestamp,
            headers=list(record.headers),
        )
        window.append((record.offset if part.keeps_offsets else index, sent))
        if len(window) >= IMPORT_WINDOW:
            await settle()
    await settle()
    if written != part.records:
        raise BackupError(
            f"{part.file}: {written} records, the manifest says {part.records}: damaged backup"
        )
    return written
