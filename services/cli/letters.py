"""``annual-review letters``: the year's letters and the operator's decisions about them."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from contracts.financial_year import FinancialYear
from services.audit.record import cli_actor
from services.cli import narratives, proofs
from services.cli.common import (
    ExitCode,
    fail,
    on_audit_trail,
    one_of,
    out,
    parse_council,
    parse_date,
    parse_note,
    parse_year,
    print_json,
    settings,
)
from services.cli.db import connection, run_db
from services.cli.narratives import on_kafka
from services.domain.letter import MAX_VERSION
from services.domain.letter_lifecycle import LetterState, Transition
from services.domain.narrative_book import NarrativeVersion
from services.letters import operations
from services.letters.case_list_files import file_stem
from services.letters.config import get_letters_settings
from services.letters.narrative_registry import load_book
from services.letters.proof import PLACEHOLDER_SIGNATORY, default_dates
from services.office import letter_actions
from services.platform.kafka.publisher import event_publisher
from services.projector.config import get_projector_settings

app = typer.Typer(
    help="Letters: list, show, export, and the operator's decisions (release a held letter, "
    "resend a failed one, confirm an uncertain one, withdraw a held one that must never go, "
    "re-issue after a correction). Sending is always done by the letter service, exactly "
    "once. Each decision is recorded on the office's audit trail, as made at the CLI.",
    no_args_is_help=True,
)
Council = Annotated[
    str,
    typer.Argument(
        parser=parse_council, metavar="COUNCIL", help="Council code, e.g. MAN.", show_default=False
    ),
]
Year = Annotated[
    FinancialYear,
    typer.Argument(parser=parse_year, metavar="YEAR", help="Financial year, e.g. 2019-20."),
]
Note = Annotated[
    str, typer.Option(parser=parse_note, help="Why: kept with the letter.", show_default=False)
]
Json = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
app.add_typer(narratives.app, name="narrative")
STATES = ", ".join(list(LetterState)[:-1]) + f" or {list(LetterState)[-1]}."


@app.command("list")
def list_(
    year: Annotated[
        FinancialYear | None, typer.Option(parser=parse_year, help="Only this year.")
    ] = None,
    state: Annotated[
        str | None,
        typer.Option(parser=one_of(*LetterState), help=STATES),
    ] = None,
    json_output: Json = False,
) -> None:
    """Every letter with its state, recipient and the SMTP server's last answer."""

    async def go() -> list[dict[str, Any]]:
        async with connection(settings()) as conn:
            return await operations.list_letters(conn, year=year, state=state)

    rows = run_db(go())
    if json_output:
        print_json(rows)
        return
    t = Table("council", "year", "v", "state", "recipient", "note")
    for r in rows:
        note = r["hold_reason"] or r["last_error"] or r["smtp_response"] or ""
        t.add_row(
            r["council"],
            r["financial_year"],
            str(r["version"]),
            r["state"],
            escape(r["recipient"] or "—"),  # stored text, printed as text (never as markup)
            escape(note[:70]),
        )
    out.print(t)
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["state"]] = counts.get(r["state"], 0) + 1
    out.print(", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "no letters")


@app.command("show")
def show(
    council: Council,
    year: Year,
    version: Annotated[
        int | None, typer.Option(min=1, max=MAX_VERSION, help="Default: the latest.")
    ] = None,
    html: Annotated[bool, typer.Option("--html", help="The HTML rather than the text.")] = False,
) -> None:
    """Print a letter as it was (or will be) sent."""

    async def go() -> Any:
        async with connection(settings()) as conn:
            return await operations.get_letter(conn, council.upper(), year, version)

    row = run_db(go())
    body = row["html_body"] if html else row["text_body"]
    if body is None:
        fail(
            f"the {council.upper()} {year} letter is '{row['state']}': not rendered yet",
            code=ExitCode.INVALID_INPUT,
        )
    typer.echo(body)
    # On stderr: the body on stdout stays the letter exactly as sent.
    if row["case_list_xlsx_sha256"]:
        typer.echo(f"case list (xlsx) sha256 {row['case_list_xlsx_sha256']}", err=True)
        typer.echo(f"case list (csv) sha256 {row['case_list_csv_sha256']}", err=True)
    elif row["text_body"] is not None:
        typer.echo("no case list: the letter was rendered before case lists were made", err=True)


@app.command("case-list")
def case_list(
    council: Council,
    year: Year,
    csv: Annotated[
        bool, typer.Option("--csv", help="CSV (every sheet in one file) rather than XLSX.")
    ] = False,
    output: Annotated[
        Path | None,
        typer.Option(
            "-o",
            "--output",
            metavar="FILE",
            help="Where to write it. Default: case-list-YEAR-COUNCIL-vN.xlsx (or .csv) here.",
            show_default=False,
        ),
    ] = None,
    version: Annotated[
        int | None, typer.Option(min=1, max=MAX_VERSION, help="Default: the latest.")
    ] = None,
) -> None:
    """Write the council's case list of a letter: the cases behind each figure, the cases
    left out and why, and a summary whose totals are the letter's.

    A rendered letter's is the file attached to its e-mail (the same bytes, the sha256
    `letters show` prints); before the letter is rendered it is made from the read model
    as the render will make it. Every text that a spreadsheet could take for a formula is
    written as text (docs/security.md).
    """

    async def go() -> operations.LetterCaseList:
        async with connection(settings()) as conn:
            return await operations.case_list(conn, council.upper(), year, version)

    made = run_db(go())
    content, suffix = (made.files.csv, "csv") if csv else (made.files.xlsx, "xlsx")
    target = output or Path(f"{file_stem(made.council, str(year), made.version)}.{suffix}")
    try:
        target.write_bytes(content)
    except OSError as e:
        fail(f"cannot write {target}: {e.strerror or e}", code=ExitCode.USAGE)
    sha = made.files.csv_sha256 if csv else made.files.xlsx_sha256
    origin = "as attached to the letter"
    if not made.stored:
        origin = "made now: the letter is not rendered yet"
    out.print(f"{escape(str(target))} written ({origin}); sha256 {sha}")


@app.command("export")
def export(
    out_dir: Annotated[
        Path, typer.Argument(metavar="OUT_DIR", help="Folder to write into (created).")
    ],
    year: Annotated[
        FinancialYear | None, typer.Option(parser=parse_year, help="Only this year.")
    ] = None,
) -> None:
    """Write every rendered letter as .txt, .html and .pdf files."""

    async def go() -> list[Path]:
        async with connection(settings()) as conn:
            return await operations.export(conn, out_dir, year=year)

    written = run_db(go())
    out.print(f"{len(written)} file(s) written to {out_dir}")


def _move(action: Transition, council: str, year: FinancialYear, note: str) -> None:
    async def narrative_in_force() -> NarrativeVersion | None:
        return (await load_book(settings())).in_force(year.letter_year)

    async def go() -> int:
        s = settings()
        async with connection(s) as conn, event_publisher(s) as publisher:
            return await letter_actions.decide_letter(
                conn, publisher, cli_actor(), action, council.upper(), year, note,
                narrative_in_force,
            )  # fmt: skip

    run_db(on_audit_trail(go()))
    if action is Transition.WITHDRAW:
        out.print(f"{council.upper()} {year}: withdrawn; it will never be sent")
        return
    out.print(f"{council.upper()} {year}: {action} done; the letter service takes it from here")


@app.command("release")
def release(council: Council, year: Year, note: Note) -> None:
    """Send a letter held because of dead letters (after dealing with them)."""
    _move(Transition.RELEASE, council, year, note)


@app.command("resend")
def resend(council: Council, year: Year, note: Note) -> None:
    """Try again a letter that failed or is uncertain (check it did not arrive first)."""
    _move(Transition.RESEND, council, year, note)


@app.command("confirm-sent")
def confirm_sent(council: Council, year: Year, note: Note) -> None:
    """Record that an uncertain letter did arrive (checked with the recipient or the relay)."""
    _move(Transition.CONFIRM_SENT, council, year, note)


@app.command("withdraw")
def withdraw(
    council: Council,
    year: Year,
    reason: Annotated[
        str,
        typer.Option(
            parser=parse_note,
            help="Why it must never go: kept with the letter.",
            show_default=False,
        ),
    ],
) -> None:
    """Withdraw a held letter that must never go (for example one held for a council
    registered after the close without a start date). Only a held letter can be withdrawn:
    nothing of it was sent. Final."""
    _move(Transition.WITHDRAW, council, year, reason)


@app.command("reissue")
def reissue(
    council: Council,
    year: Year,
    reason: Annotated[
        str,
        typer.Option(parser=parse_note, help="Why a new version is sent.", show_default=False),
    ],
    letter_date: Annotated[
        date | None,
        typer.Option(parser=parse_date, help="Date of the new version, e.g. 2020-09-01."),
    ] = None,
    narrative_version: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Print this version of the year's narrative (`letters narrative list`); "
            "default: the one the previous version was made from.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Send a new, numbered version of a council's letter, made from the live figures (for
    example after a correction changed them)."""
    narrative = None
    if narrative_version is not None:
        book = on_kafka(load_book(settings()))
        narrative = book.version(year.letter_year, narrative_version)
        if narrative is None:
            fail(
                f"no version {narrative_version} of the {year.letter_year} narrative",
                hint="`annual-review letters narrative list` shows the versions",
                code=ExitCode.INVALID_INPUT,
            )

    async def go() -> tuple[int, int]:
        s = settings()
        async with connection(s) as conn, event_publisher(s) as publisher:
            return await letter_actions.reissue_letter(
                conn,
                publisher,
                cli_actor(),
                council.upper(),
                year,
                reason=reason,
                rule=get_projector_settings().averaging_rule,
                message_id_domain=get_letters_settings().message_id_domain,
                letter_date=letter_date,
                narrative=narrative,
            )

    _, version = run_db(on_audit_trail(go()))
    out.print(f"{council.upper()} {year}: version {version} queued; the letter service sends it")


@app.command("proof")
def proof(
    year: Year,
    council: Annotated[
        str | None,
        typer.Option(
            parser=parse_council, help="Only this council (code, e.g. MAS); default: all."
        ),
    ] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="Where the proofs go; default: out/proofs/YEAR."),
    ] = None,
    narrative_file: Annotated[
        Path | None,
        typer.Option(
            "--narrative",
            help="Proof this draft narrative (Markdown); default: the one registered.",
            show_default=False,
        ),
    ] = None,
    letter_format: Annotated[
        str | None,
        typer.Option("--format", help="The draft's format, for a year after 2026."),
    ] = None,
    letter_date: Annotated[
        date | None,
        typer.Option(
            parser=parse_date,
            help="The date printed on the letters, e.g. 2026-07-22. Default: today, or the "
            "day after the year ends.",
        ),
    ] = None,
    publication_date: Annotated[
        date | None,
        typer.Option(parser=parse_date, help="e.g. 2026-07-29. Default: a week after the letter."),
    ] = None,
    signatory_name: Annotated[
        str | None, typer.Option(help="Default: a [signatory] placeholder.")
    ] = None,
    signatory_title: Annotated[
        list[str] | None, typer.Option(help="A title line; repeat for each line.")
    ] = None,
) -> None:
    """Proof the year's letters before the close: text, HTML, PDF and a PNG of each PDF page,
    from the live figures, every page marked PROOF. Nothing is sent, stored or published.

      annual-review letters proof 2025-26 --narrative draft-2026.md --council MAS
    """
    fmt = proofs.checked_format(year, letter_format)
    narrative = (
        proofs.draft(narrative_file, year, fmt) if narrative_file else proofs.registered(year)
    )
    default_letter, _ = default_dates(year, date.today())
    when = letter_date or default_letter
    published = publication_date or when + timedelta(days=7)
    signatory = {
        "name": signatory_name or PLACEHOLDER_SIGNATORY["name"],
        "titles": tuple(signatory_title or PLACEHOLDER_SIGNATORY["titles"]),
    }
    folder = out_dir or Path("out") / "proofs" / year.label
    made = proofs.make(year, council, narrative, when, published, signatory, folder)
    which = f"draft {narrative_file}" if narrative_file else f"version {narrative.version}"
    out.print(
        f"[bold green]{len(made)} proof(s)[/] of the {year} letters in {folder}/ "
        f"(narrative {which}); nothing was sent"
    )
    proofs.record(year, council, narrative, len(made))
