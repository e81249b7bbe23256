"""Publishing many events in chunks, with a progress bar and a summary of where they went."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from rich.table import Table

from contracts.envelope import Envelope
from contracts.topics import FACTS
from services.cli.common import err, out
from services.cli.progress import progress
from services.platform.kafka.publisher import Position
from services.platform.kafka.reachability import checked_publisher
from services.platform.office_signature import MissingOfficeKey
from services.platform.settings import Settings

CHUNK = 2_000


@dataclass(slots=True)
class PartitionRange:
    partition: int
    first_offset: int
    last_offset: int
    events: int = 0


@dataclass(slots=True)
class PublishSummary:
    topic: str
    published: int = 0
    by_type: Counter[str] = field(default_factory=Counter)
    partitions: dict[int, PartitionRange] = field(default_factory=dict)

    def add(self, event: Envelope[Any], position: Position) -> None:
        self.published += 1
        self.by_type[event.type] += 1
        r = self.partitions.get(position.partition)
        if r is None:
            r = self.partitions[position.partition] = PartitionRange(
                position.partition, position.offset, position.offset
            )
        r.first_offset = min(r.first_offset, position.offset)
        r.last_offset = max(r.last_offset, position.offset)
        r.events += 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "published": self.published,
            "by_type": dict(sorted(self.by_type.items())),
            "partitions": [
                {
                    "partition": r.partition,
                    "events": r.events,
                    "first_offset": r.first_offset,
                    "last_offset": r.last_offset,
                }
                for r in sorted(self.partitions.values(), key=lambda r: r.partition)
            ],
        }


class PartiallyPublished(Exception):
    """Publishing failed after some events were written (the summary says which): the
    first ``summary.published`` of ``total`` are acknowledged, the rest are not."""

    def __init__(self, summary: PublishSummary, cause: BaseException, total: int) -> None:
        super().__init__(str(cause))
        self.summary = summary
        self.cause = cause
        self.total = total

    def not_acknowledged(self) -> dict[str, int]:
        """The events (1-based, in input order) no broker acknowledged: some of the first
        chunk among them may be in the log all the same (republishing is safe)."""
        return {
            "first": self.summary.published + 1,
            "last": self.total,
            "events": self.total - self.summary.published,
        }


def _chunks(events: Iterable[Envelope[Any]], size: int) -> Iterator[list[Envelope[Any]]]:
    it = iter(events)
    while chunk := list(islice(it, size)):
        yield chunk


async def publish_all(
    settings: Settings,
    events: Iterable[Envelope[Any]],
    *,
    total: int,
    description: str = "publishing",
    chunk_size: int = CHUNK,
    quiet: bool = False,
) -> PublishSummary:
    """Publish in order, ``chunk_size`` at a time, each chunk acknowledged before the next."""
    summary = PublishSummary(topic=settings.topic(FACTS))
    async with checked_publisher(settings) as p:
        with progress(disable=quiet) as bar:
            task = bar.add_task(description, total=total)
            for chunk in _chunks(events, chunk_size):
                try:
                    positions = await p.publish_many(chunk)
                except MissingOfficeKey as e:
                    # Refused before its chunk was sent: with nothing sent before it either,
                    # the caller says "nothing was published", not "partially".
                    if summary.published:
                        raise PartiallyPublished(summary, e, total) from e
                    raise
                except Exception as e:
                    raise PartiallyPublished(summary, e, total) from e
                for event, position in zip(chunk, positions, strict=True):
                    summary.add(event, position)
                bar.advance(task, len(chunk))
    return summary


def print_summary(summary: PublishSummary) -> None:
    out.print(f"[bold green]Published {summary.published:,} event(s)[/] to {summary.topic}")
    kinds = Table(title=None, show_edge=False, box=None, padding=(0, 2))
    kinds.add_column("event type")
    kinds.add_column("events", justify="right")
    for kind, n in sorted(summary.by_type.items()):
        kinds.add_row(kind, f"{n:,}")
    out.print(kinds)
    table = Table(show_edge=False, box=None, padding=(0, 2))
    table.add_column("partition", justify="right")
    table.add_column("events", justify="right")
    table.add_column("offsets", justify="right")
    for r in sorted(summary.partitions.values(), key=lambda r: r.partition):
        table.add_row(str(r.partition), f"{r.events:,}", f"{r.first_offset}-{r.last_offset}")
    out.print(table)


def report_partial(e: PartiallyPublished) -> None:
    missing = e.not_acknowledged()
    err.print(
        f"[bold red]error:[/] publishing failed after {e.summary.published:,} event(s) were "
        f"written: {e.cause!r}"
    )
    err.print(
        f"[bold red]not accepted:[/] events {missing['first']:,} to {missing['last']:,} of the "
        f"input ({missing['events']:,}) were not acknowledged by Kafka"
    )
    err.print(
        "[yellow]hint:[/] the events already written stay in the log; republishing the same "
        "file is safe for the statistics (the projector skips event ids it has applied)"
    )
