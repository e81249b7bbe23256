"""``annual-review publish FILE.jsonl``: validate every line, then publish them all or none."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from contracts.codec import RejectedMessage, decode
from contracts.envelope import Envelope
from contracts.events import OFFICE_EVENTS, Payload
from services.cli.bulk_publish import (
    CHUNK,
    PartiallyPublished,
    print_summary,
    publish_all,
    report_partial,
)
from services.cli.common import ExitCode, err, fail, print_json, run, settings
from services.cli.progress import progress
from services.platform.kafka.reachability import KafkaUnavailable
from services.platform.office_signature import office_signer

JSON_INVALID_LIMIT = 10_000


@dataclass(frozen=True, slots=True)
class InvalidLine:
    line: int
    reason: str
    detail: str
    event_type: str | None = None
    council: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "reason": self.reason,
            "detail": self.detail,
            "event_type": self.event_type,
            "council": self.council,
        }


@dataclass(slots=True)
class Scan:
    events: int = 0
    blank_lines: int = 0
    by_type: Counter[str] = field(default_factory=Counter)
    invalid: list[InvalidLine] = field(default_factory=list)
    invalid_count: int = 0


OFFICE_TYPES = frozenset(t.__name__ for t in OFFICE_EVENTS)


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    with path.open("rb") as f:
        yield from enumerate(f, start=1)


def scan(path: Path, *, keep: int = JSON_INVALID_LIMIT, quiet: bool = False) -> Scan:
    """Check every line with the same decoder the projector uses (size, JSON, envelope,
    type, schema version, the payload's rules)."""
    result = Scan()
    size = path.stat().st_size
    with progress(disable=quiet) as bar:
        task = bar.add_task(f"checking {path.name}", total=size)
        for number, raw in _lines(path):
            bar.advance(task, len(raw))
            if not raw.strip():
                result.blank_lines += 1
                continue
            try:
                event = decode(raw.rstrip(b"\r\n"))
            except RejectedMessage as e:
                result.invalid_count += 1
                if len(result.invalid) < keep:
                    result.invalid.append(
                        InvalidLine(number, e.reason.value, e.detail, e.event_type, e.council)
                    )
                continue
            result.events += 1
            result.by_type[event.type] += 1
    return result


def events_in(path: Path) -> Iterator[Envelope[Payload]]:
    for _number, raw in _lines(path):
        if raw.strip():
            yield decode(raw.rstrip(b"\r\n"))


def _print_invalid(path: Path, result: Scan, show: int) -> None:
    table = Table(title=f"Invalid lines in {path}", title_justify="left", show_lines=False)
    table.add_column("line", justify="right", style="bold")
    table.add_column("reason", style="red")
    table.add_column("detail", overflow="fold")
    for bad in result.invalid[:show]:
        table.add_row(str(bad.line), bad.reason, bad.detail)
    err.print(table)
    if result.invalid_count > show:
        err.print(f"... and {result.invalid_count - show:,} more (use --show N or --json)")


def publish(
    file: Annotated[
        Path,
        typer.Argument(
            help="JSON Lines file: one event envelope per line (blank lines are ignored).",
            exists=True,
            dir_okay=False,
            readable=True,
            show_default=False,
        ),
    ],
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the result (or the invalid lines) as JSON.")
    ] = False,
    show: Annotated[
        int, typer.Option(min=1, help="How many invalid lines to list in the table.")
    ] = 50,
    chunk_size: Annotated[
        int,
        typer.Option(
            min=1, max=100_000, help="Events sent per publish_many call (acknowledged together)."
        ),
    ] = CHUNK,
) -> None:
    """Validate every line of FILE, then publish all its events to Kafka, or none.

    Each line is checked as the projector will check it (JSON, envelope, event type,
    schema version, the payload's rules). If any line is invalid, the invalid lines are
    listed with their line numbers and reasons, NOTHING is published and the exit code is 1.
    Otherwise the events are published in file order (keyed by council, so each council's
    events stay in order), and the counts and per-partition offset ranges are printed.

    Kafka is found through AR_KAFKA_BOOTSTRAP (see `annual-review config`).
    """
    result = scan(file, quiet=json_output)
    if result.invalid_count:
        if json_output:
            print_json(
                {
                    "file": str(file),
                    "published": 0,
                    "valid_lines": result.events,
                    "invalid_count": result.invalid_count,
                    "invalid": [b.as_dict() for b in result.invalid],
                    "invalid_truncated": result.invalid_count > len(result.invalid),
                }
            )
        else:
            _print_invalid(file, result, show)
            err.print(
                f"[bold red]error:[/] {result.invalid_count:,} of "
                f"{result.invalid_count + result.events:,} line(s) are invalid: nothing was "
                f"published. Fix or remove them and run the command again."
            )
        raise typer.Exit(int(ExitCode.INVALID_INPUT))
    office = sorted(t for t in result.by_type if t in OFFICE_TYPES)
    if office and office_signer(settings()) is None:
        # Checked before anything is sent: the file's casework must not go out without them.
        fail(
            f"{file} holds {', '.join(office)}: only the Ombudsman's office may publish those, "
            "signed with its key, and this process has none; nothing was published",
            hint="run as the operator (AR_PRINCIPAL=operator, the secrets folder's "
            "office-signing.key); a case management system publishes casework only",
            code=ExitCode.INVALID_INPUT,
            as_json=json_output,
        )
    if result.events == 0:
        if json_output:
            print_json({"file": str(file), "published": 0, "by_type": {}, "partitions": []})
        else:
            err.print(f"[yellow]warning:[/] {file} has no events: nothing to publish")
        return

    try:
        summary = run(
            publish_all(
                settings(),
                events_in(file),
                total=result.events,
                chunk_size=chunk_size,
                quiet=json_output,
            )
        )
    except KafkaUnavailable as e:
        fail(
            f"{e}; nothing was published",
            hint=e.hint,
            code=ExitCode.UNAVAILABLE,
            as_json=json_output,
        )
    except PartiallyPublished as e:
        report_partial(e)
        if json_output:
            print_json(
                {
                    "file": str(file),
                    "error": repr(e.cause),
                    **e.summary.as_dict(),
                    "not_acknowledged": e.not_acknowledged(),
                }
            )
        raise typer.Exit(int(ExitCode.PARTIAL)) from None
    if json_output:
        print_json({"file": str(file), **summary.as_dict()})
    else:
        print_summary(summary)
