"""``annual-review dlq``: messages the projector refused, and what to do with them."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from contracts.financial_year import FinancialYear
from services.audit.record import cli_actor
from services.cli.common import on_audit_trail, one_of, out, parse_note, print_json, settings
from services.cli.db import connection, run_db
from services.office.letter_actions import redrive_dead_letters, resolve_dead_letters
from services.platform.kafka.publisher import event_publisher
from services.readmodel.dead_letters import list_dead_letters, list_parked

app = typer.Typer(
    help="Dead letters: every message the projector refused, with the reason and where it "
    "came from. Fix the cause, then re-drive (publish the original again) or resolve.",
    no_args_is_help=True,
)
Json = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
Ids = Annotated[
    list[int],
    typer.Argument(metavar="IDS...", help="Dead-letter ids (from `dlq list`).", show_default=False),
]
Note = Annotated[
    str,
    typer.Option(parser=parse_note, help="Why: kept with the dead letter.", show_default=False),
]
STATES = ("open", "redriven", "resolved", "parked", "all")


@app.command("list")
def list_(
    state: Annotated[
        str,
        typer.Option(
            parser=one_of(*STATES),
            help="open, redriven, resolved, parked or all (parked included).",
        ),
    ] = "open",
    limit: Annotated[int, typer.Option(min=1, help="At most this many.")] = 100,
    json_output: Json = False,
) -> None:
    """List dead letters (open ones by default).

    ``--state parked`` lists the events parked because their council is not registered
    yet: they are not refused, cannot be re-driven or resolved, and apply by themselves when
    the council is registered (a closed year's letter for such a council is held)."""

    async def go() -> list[dict[str, Any]]:
        async with connection(settings()) as conn:
            parked = await list_parked(conn, limit=limit) if state in ("parked", "all") else []
            if state == "parked":
                return parked
            dead = await list_dead_letters(
                conn, state=None if state == "all" else state, limit=limit
            )
            return dead + parked

    rows = run_db(go())
    if json_output:
        print_json(rows)
        return
    if not rows:
        out.print(f"no {state} dead letters")
        return
    t = Table("id", "reason", "council", "year", "from", "detail", title=f"{state} dead letters")
    for r in rows:
        year = FinancialYear(r["financial_year"]).label if r["financial_year"] else "—"
        t.add_row(
            str(r["id"]) if r["id"] is not None else "—",
            escape(r["reason"]),  # stored text, printed as text (never as Rich markup)
            escape(r["council"] or "—"),
            year,
            f"{r['partition']}@{r['offset']}",
            escape(r["detail"][:120]),
        )
    out.print(t)


@app.command("redrive")
def redrive(ids: Ids, note: Note = "re-driven by an operator") -> None:
    """Publish the original messages again, after fixing what refused them (for example
    registering a missing council). They are validated like any new message, and never
    signed: a close or register event (and a not_authorised one) is refused; the office
    publishes those again with `councils import` or `close-year`. Each one re-driven is
    recorded on the office's audit trail, as done at the CLI."""

    async def go() -> list[dict[str, Any]]:
        s = settings()
        async with connection(s) as conn, event_publisher(s) as publisher:
            return await redrive_dead_letters(conn, publisher, cli_actor(), ids, note)

    done = run_db(on_audit_trail(go()))
    for d in done:
        out.print(
            f"dead letter {d['id']} re-published at partition {d['partition']} "
            f"offset {d['republished_at']}"
        )


@app.command("resolve")
def resolve(ids: Ids, note: Note) -> None:
    """Close dead letters that need no re-drive (for example, already published again
    fixed), so that the letters they hold can be released. Recorded on the office's audit
    trail, as done at the CLI."""

    async def go() -> int:
        s = settings()
        async with connection(s) as conn, event_publisher(s) as publisher:
            return await resolve_dead_letters(conn, publisher, cli_actor(), ids, note)

    n = run_db(on_audit_trail(go()))
    out.print(f"{n} dead letter(s) resolved")
