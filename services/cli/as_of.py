"""``--as-of`` and ``--until-offsets``, shared by ``stats`` and ``explain``: the options, and
where a command reads its figures from (the live read models, or a scratch version holding
the log folded up to those positions).

Both commands read the same scratch version the same way (services/projector/as_of.py): a
replay stopped at the positions, never a second computation of the figures.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

import asyncpg
import typer

from services.cli.common import ExitCode, fail, out, run
from services.cli.db import DatabaseUnavailable, connection
from services.platform.settings import Settings
from services.projector.as_of import positions_at, scratch_version
from services.projector.config import get_projector_settings

T = TypeVar("T")


def parse_moment(text: str) -> datetime:
    """ISO 8601, e.g. 2026-12-07T05:40:00+00:00; without a zone it is UTC."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not an ISO 8601 moment (2026-12-07T05:40:00Z)"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def parse_offsets(text: str) -> dict[int, int]:
    """``PARTITION=OFFSET,...``: where a replay stops on each partition (the first offset
    not applied); a partition not named is not read at all."""
    try:
        pairs = [item.split("=", 1) for item in text.split(",") if item.strip()]
        return {int(p): int(o) for p, o in pairs}
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not PARTITION=OFFSET,... (e.g. 0=120,1=98)"
        ) from None


AsOfOption = Annotated[
    datetime | None,
    typer.Option(
        "--as-of",
        parser=parse_moment,
        metavar="TIMESTAMP",
        help="As the system knew it at this moment (ISO 8601; UTC without a zone): the log "
        "as the broker had appended it then, folded again.",
    ),
]
UntilOffsetsOption = Annotated[
    dict[int, int] | None,
    typer.Option(
        "--until-offsets",
        parser=parse_offsets,
        metavar="P=OFFSET,...",
        help="As a replay stopped at these positions would give it (the first offset not "
        "applied, per partition).",
    ),
]


@dataclass
class Then:
    """The moment or positions a command was asked about (neither: now, the live figures),
    and, once read, the positions used."""

    as_of: datetime | None = None
    until_offsets: dict[int, int] | None = None
    positions: dict[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.as_of is not None and self.until_offsets is not None:
            fail("give --as-of or --until-offsets, not both", code=ExitCode.USAGE)

    @property
    def live(self) -> bool:
        return self.as_of is None and self.until_offsets is None

    def as_dict(self) -> dict[str, Any]:
        """JSON's ``as_of``: the moment asked about (null for --until-offsets) and the
        positions the log was read to."""
        return {
            "moment": self.as_of.isoformat() if self.as_of is not None else None,
            "positions": {str(p): o for p, o in sorted(self.positions.items())},
        }

    def print_heading(self) -> None:
        if self.live:
            return
        at = f"as of {self.as_of.isoformat()}" if self.as_of is not None else "replayed"
        stops = ", ".join(f"{p}={o}" for p, o in sorted(self.positions.items()))
        out.print(f"[bold]{at}[/]: the log up to positions {stops}")


@asynccontextmanager
async def read_models(s: Settings, then: Then) -> AsyncIterator[tuple[asyncpg.Connection, str]]:
    """A connection and the schema to read: the live views (``readmodel``), or a scratch
    version of the log folded up to ``then``'s positions, dropped when the block ends."""
    if then.live:
        async with connection(s) as conn:
            yield conn, "readmodel"
        return
    until = then.until_offsets
    if until is None:
        assert then.as_of is not None
        until = await positions_at(s, then.as_of)
    then.positions = dict(until)
    workers = int(os.environ.get("AR_PROJECTOR_REBUILD_WORKERS", "1") or 1)
    async with scratch_version(s, get_projector_settings(), until, workers=workers) as (
        conn,
        schema,
    ):
        yield conn, schema


def run_reading(
    make: Callable[[], Coroutine[Any, Any, T]],
) -> T:
    """Run a read (live or as of a moment) with the refusals every reading command gives:
    the servers away (exit 3) or a role that may not create a scratch version (exit 2)."""
    try:
        return run(make())
    except DatabaseUnavailable as e:
        fail(str(e), hint=e.hint, code=ExitCode.UNAVAILABLE)
    except OSError as e:
        fail(f"cannot reach the servers ({e})", hint="run `make up` first",
             code=ExitCode.UNAVAILABLE)  # fmt: skip
    except asyncpg.InsufficientPrivilegeError as e:
        # --as-of creates a scratch version of the read models, as `replay` creates one.
        fail(
            f"this role may not create a read-model version ({e})",
            hint="run --as-of as `replay` runs: AR_PRINCIPAL=projector, or as the owner "
            "(docs/security.md)",
            code=ExitCode.USAGE,
        )
