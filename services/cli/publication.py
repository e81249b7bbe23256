"""``annual-review publication run|status``: the publication step, by hand or from cron.

A closed year becomes public at 00:00 UK time on its publication date; ``run`` publishes
every year that is due (``serve publication`` does the same in a loop). Run as the operator
(``AR_PRINCIPAL=operator``) or the owner.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import typer

from services.cli.common import out, print_json, settings
from services.cli.db import connection, run_db
from services.publication.clock import system_clock
from services.publication.job import closes, publish_due

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
        typer.Option(help="Publish as of this moment (ISO 8601 with a zone); default: now."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Publish every closed year whose publication date has come (00:00 UK time)."""
    when = _parse_now(now) or system_clock()

    async def go() -> list[str]:
        async with connection(settings()) as conn:
            return [y.label for y in await publish_due(conn, when)]

    published = run_db(go())
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
