"""``annual-review publication run|status``: the publication step, by hand or from cron.

A closed year becomes public at 00:00 UK time on its publication date, by the database's
clock; ``run`` publishes every year that is due (``serve publication`` does the same in a
loop). Run ``run`` as the publication job's principal (``AR_PRINCIPAL=publication``) or the
owner; ``status`` as the operator too. ``--now`` publishes as of an earlier moment; a moment
later than the database's clock is refused (exit code 1), so the embargo cannot be broken
from the command line.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import asyncpg
import typer

from services.cli.common import ExitCode, fail, out, print_json, settings
from services.cli.db import connection, run_db
from services.publication.job import FutureClock, closes, database_now, publish_due

app = typer.Typer(help="Publish closed years on their publication date.", no_args_is_help=True)


def _parse_now(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not a date and time (2020-07-29T00:00+01:00)"
        ) from None
    if when.tzinfo is None:
        raise typer.BadParameter("give the time zone, e.g. 2020-07-29T00:00+01:00")
    return when


@app.command("run")
def run_job(
    now: Annotated[
        str | None,
        typer.Option(
            help="Publish as of this earlier moment (ISO 8601 with a zone); default: the "
            "database's clock. A moment after the database's clock is refused (exit code 1)."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Publish every closed year whose publication date has come (00:00 UK time), by the
    database's clock."""
    given = _parse_now(now)

    async def go() -> tuple[list[str], datetime] | FutureClock:
        async with connection(settings()) as conn:
            when = given or await database_now(conn)
            try:
                return [y.label for y in await publish_due(conn, when)], when
            except FutureClock as refused:
                return refused

    try:
        result = run_db(go())
    except asyncpg.InsufficientPrivilegeError as e:
        fail(
            f"this database role may not record a publication ({e})",
            hint="run it as the publication job: AR_PRINCIPAL=publication (with "
            "AR_SECRETS_DIR), or an AR_DATABASE_URL with the role ar_publication",
            as_json=as_json,
        )
    if isinstance(result, FutureClock):
        fail(
            f"--now refused: {result}; nothing was published",
            hint="leave out --now to publish what is due now; `publication status` shows "
            "when each year publishes",
            code=ExitCode.INVALID_INPUT,
            as_json=as_json,
        )
    published, when = result
    if as_json:
        print_json({"published": published, "at": when.isoformat()})
    else:
        out.print(f"published: {', '.join(published)}" if published else "nothing is due")


@app.command("status")
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Every closed year: when it publishes, and whether it has been."""

    async def go() -> list[dict[str, Any]]:
        async with connection(settings()) as conn:
            return [
                {
                    "financial_year": c.year.label,
                    "publication_date": c.publication_date.isoformat(),
                    "publishes_at": c.publishes_at.isoformat(),
                    "published_at": c.published_at.isoformat() if c.published_at else None,
                }
                for c in await closes(conn)
            ]

    rows = run_db(go())
    if as_json:
        print_json(rows)
        return
    if not rows:
        out.print("no year has been closed")
    for r in rows:
        state = f"published {r['published_at']}" if r["published_at"] else "not yet published"
        out.print(f"{r['financial_year']}: publishes {r['publishes_at']}; {state}")
