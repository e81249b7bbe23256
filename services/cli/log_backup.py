"""``annual-review log export|verify|import``: a backup of the Kafka topics in files, and its
restore into an empty cluster (the format: services/platform/kafka/backup.py)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer
from aiokafka.errors import KafkaConnectionError, KafkaError, TopicAuthorizationFailedError

from services.cli.common import ExitCode, fail, out, print_json, run, settings
from services.cli.progress import progress
from services.platform.kafka.backup import (
    BackupError,
    Manifest,
    export_log,
    import_log,
    read_manifest,
    verify,
)

app = typer.Typer(
    help="Back up the log (every Kafka topic) to files, and restore it into an empty cluster.",
    no_args_is_help=True,
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


def _kafka_failure(e: KafkaError | OSError, *, principal: str) -> None:
    if isinstance(e, TopicAuthorizationFailedError):
        fail(
            f"Kafka refused this principal a topic ({e})",
            hint=f"run it as AR_PRINCIPAL={principal} (docs/security.md)",
            code=ExitCode.USAGE,
        )
    if isinstance(e, KafkaConnectionError | OSError):
        fail(f"cannot reach Kafka ({e})", hint="run `make up` first", code=ExitCode.UNAVAILABLE)
    fail(f"Kafka failed: {e!r}", code=ExitCode.UNAVAILABLE)


def _summary(manifest: Manifest, seconds: float) -> dict[str, Any]:
    return {
        "records": manifest.records,
        "bytes": manifest.bytes,
        "seconds": round(seconds, 2),
        "exported_at": manifest.exported_at,
        "partitions": [
            {
                "file": p.file,
                "start": p.start,
                "end": p.end,
                "records": p.records,
                "consecutive": p.consecutive,
                "sha256": p.sha256,
            }
            for p in manifest.partitions
        ],
    }


@app.command("export")
def export(
    directory: Annotated[Path, typer.Argument(help="A new or empty folder for the backup.")],
    json_output: JsonOption = False,
) -> None:
    """Write every topic (all partitions, from the earliest offset to the end when the export
    starts) to compressed files in DIRECTORY, and a manifest with each file's positions and
    sha256, written last. Run it as the operator; the services may keep running: records
    written after the export starts are in the next backup."""
    s = settings()
    started = time.monotonic()
    with progress(disable=json_output) as bar:
        task = bar.add_task("exporting the log", total=None)
        try:
            manifest = run(
                export_log(
                    s,
                    directory,
                    on_total=lambda total: bar.update(task, total=total),
                    on_records=lambda n: bar.advance(task, n),
                )
            )
        except BackupError as e:
            fail(str(e), code=ExitCode.USAGE, as_json=json_output)
        except (KafkaError, OSError) as e:
            _kafka_failure(e, principal="operator")
    seconds = time.monotonic() - started
    if json_output:
        print_json(_summary(manifest, seconds))
        return
    out.print(
        f"{manifest.records:,} records of {len(manifest.partitions)} partitions in "
        f"{seconds:.1f} s: {manifest.bytes:,} bytes in {directory} (manifest.json last)"
    )


@app.command("verify")
def verify_backup(
    directory: Annotated[Path, typer.Argument(help="The backup's folder.")],
    json_output: JsonOption = False,
) -> None:
    """Check every file of the backup against the manifest's size and sha256 (no server)."""
    try:
        total = read_manifest(directory).bytes
        with progress(disable=json_output) as bar:
            task = bar.add_task("checking the files", total=total)
            manifest = verify(directory, on_bytes=lambda n: bar.advance(task, n))
    except BackupError as e:
        fail(str(e), code=ExitCode.INVALID_INPUT, as_json=json_output)
    if json_output:
        print_json({"records": manifest.records, "bytes": manifest.bytes, "intact": True})
        return
    out.print(f"intact: {manifest.records:,} records, {len(manifest.partitions)} files")


@app.command("import")
def import_(
    directory: Annotated[Path, typer.Argument(help="The backup's folder (from `log export`).")],
    json_output: JsonOption = False,
) -> None:
    """Restore a backup into an empty cluster: check every file's sha256, refuse unless every
    topic exists (`make up` creates them) and is empty, then write each partition's records
    in order to the same partition, each with its key, value, headers and timestamp, and
    check that each lands at its original offset. Run it as admin (docs/security.md). Then
    rebuild the figures: `annual-review replay`."""
    s = settings()
    started = time.monotonic()
    try:
        with progress(disable=json_output) as bar:
            total = read_manifest(directory).bytes
            check = bar.add_task("checking the files", total=total)
            manifest = verify(directory, on_bytes=lambda n: bar.advance(check, n))
            task = bar.add_task("importing the log", total=manifest.records)
            report = run(
                import_log(
                    s, directory, manifest=manifest, on_records=lambda n: bar.advance(task, n)
                )
            )
    except BackupError as e:
        fail(str(e), code=ExitCode.INVALID_INPUT, as_json=json_output)
    except (KafkaError, OSError) as e:
        _kafka_failure(e, principal="admin")
    seconds = time.monotonic() - started
    result = {
        "records": report.records,
        "partitions": report.partitions,
        "renumbered": report.renumbered,
        "seconds": round(seconds, 2),
    }
    if json_output:
        print_json(result)
        return
    out.print(
        f"{report.records:,} records into {report.partitions} partitions in {seconds:.1f} s, "
        "each at its original offset"
        + (
            f" except in {', '.join(report.renumbered)} (offsets with gaps: renumbered in order)"
            if report.renumbered
            else ""
        )
    )
    out.print("next: `annual-review replay` rebuilds the figures from the restored log")
