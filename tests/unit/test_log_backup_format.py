"""The backup's files without a server: every byte of a record survives the line format, and a
damaged or unfinished backup is refused before anything is written."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
from pathlib import Path

import pytest

from contracts.topics import FACTS, LETTERS
from services.platform.kafka.backup import (
    FORMAT,
    MANIFEST,
    BackupError,
    BackupRecord,
    Manifest,
    PartitionFile,
    parse_line,
    read_partition,
    record_line,
    verify,
)

SIGNED = BackupRecord(
    offset=7,
    timestamp=1_591_000_000_123,
    timestamp_type=0,
    key=b"MAN",
    value=b'{"type":"CouncilRegistered"}\x00\xff not even utf-8 \xc3',
    headers=(("event-type", b"CouncilRegistered"), ("office-signature", b"k1:\x00\x01AbC==")),
)


def test_a_record_survives_its_line_byte_for_byte() -> None:
    line = record_line(SIGNED)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert parse_line(line) == SIGNED


def test_a_missing_key_or_value_stays_missing_not_empty() -> None:
    tombstone = BackupRecord(0, 1, 1, None, None, ())
    assert parse_line(record_line(tombstone)) == tombstone
    empty = BackupRecord(0, 1, 0, b"", b"", (("h", b""),))
    assert parse_line(record_line(empty)) == empty


def _backup(tmp_path: Path, records: list[BackupRecord]) -> tuple[Path, PartitionFile]:
    relative = f"{FACTS.name}/0.jsonl.gz"
    path = tmp_path / relative
    path.parent.mkdir(parents=True)
    with gzip.open(path, "wb") as f:
        f.writelines(record_line(r) for r in records)
    part = PartitionFile(
        topic=FACTS.name, partition=0, start=0, end=len(records), records=len(records),
        consecutive=True, file=relative, bytes=path.stat().st_size,
        sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
    )  # fmt: skip
    manifest = Manifest(FORMAT, "2026-12-07T05:00:00+00:00", "", (part,))
    (tmp_path / MANIFEST).write_text(manifest.to_json())
    return tmp_path, part


def test_an_intact_backup_verifies_and_reads_back_in_order(tmp_path: Path) -> None:
    records = [BackupRecord(i, 1000 + i, 0, b"K", b"v%d" % i) for i in range(50)]
    directory, part = _backup(tmp_path, records)
    manifest = verify(directory)
    assert manifest.records == 50 and manifest.partitions == (part,)
    assert list(read_partition(directory, part)) == records
    assert part.keeps_offsets


def test_one_changed_byte_is_refused_by_the_manifests_hash(tmp_path: Path) -> None:
    directory, part = _backup(tmp_path, [SIGNED])
    path = directory / part.file
    data = bytearray(path.read_bytes())
    data[-5] ^= 0x01  # same size, another content
    path.write_bytes(bytes(data))
    with pytest.raises(BackupError, match="sha256 differs"):
        verify(directory)


def test_a_backup_without_its_manifest_is_an_unfinished_export(tmp_path: Path) -> None:
    directory, _ = _backup(tmp_path, [SIGNED])
    (directory / MANIFEST).unlink()
    with pytest.raises(BackupError, match="did not finish"):
        verify(directory)


def test_a_file_of_a_topic_the_contracts_do_not_declare_is_refused(tmp_path: Path) -> None:
    directory, part = _backup(tmp_path, [SIGNED])
    strange = Manifest(FORMAT, "x", "", (dataclasses.replace(part, topic="other"),))
    (directory / MANIFEST).write_text(strange.to_json())
    with pytest.raises(BackupError, match=r"not one of contracts/topics\.py"):
        verify(directory)


def test_offsets_are_kept_only_from_zero_without_gaps() -> None:
    base = PartitionFile(LETTERS.name, 0, 0, 3, 3, True, "f", 1, "x")
    assert base.keeps_offsets
    assert not dataclasses.replace(base, consecutive=False).keeps_offsets
    assert not dataclasses.replace(base, start=1).keeps_offsets


def test_a_manifest_of_another_format_is_refused() -> None:
    with pytest.raises(BackupError, match="format"):
        Manifest.from_json('{"format": "something-else/9", "partitions": []}')
