"""``annual-review letters narrative``: the year's own words, written by the Ombudsman's office.

A narrative is a Markdown document (docs/narratives.md). ``check`` reads it and lists every
problem with its line; ``set`` checks it and registers it as the year's next version (an event
on the narratives topic, so a replay or a new installation has every version); ``show`` and
``list`` read them back. ``close-year`` pins the version in force.
"""

from __future__ import annotations

from collections.abc import Coroutine
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from aiokafka.errors import KafkaError
from rich.table import Table

from contracts.financial_year import FinancialYear, NotAFinancialYear
from contracts.values import LETTER_FORMATS, LetterFormat
from services.audit.record import cli_actor
from services.cli.common import ExitCode, err, fail, out, print_json, run, settings
from services.domain.letter_formats import UnsupportedLetterYear, format_for
from services.domain.narrative import NarrativeError, parse
from services.domain.narrative_book import NarrativeBook, NarrativeVersion
from services.letters.narrative_registry import load_book
from services.office.narrative_actions import register_narrative
from services.platform.kafka.reachability import MAKE_UP

T = TypeVar("T")
app = typer.Typer(
    help="The year's narrative: the paragraphs around the statistics, written by the "
    "Ombudsman's office in Markdown (docs/narratives.md). check, set, show, list.",
    no_args_is_help=True,
)


def parse_letter_year(text: str | int) -> int:
    """``2026`` (the letter year) or ``2025-26`` (the financial year it covers), refused
    unless there can be letters for it (a 2019 narrative would be refused by its event)."""
    if isinstance(text, int):
        return text
    if text.isascii() and text.isdigit() and len(text) == 4:
        letter_year = int(text)
    else:
        try:
            letter_year = FinancialYear.parse(text).letter_year
        except NotAFinancialYear:
            raise typer.BadParameter(
                f"{text!r} is not a letter year: use e.g. 2026 (or the financial year, 2025-26)"
            ) from None
    try:
        format_for(letter_year, LETTER_FORMATS[-1])  # any format: only the year is checked
    except UnsupportedLetterYear as e:
        raise typer.BadParameter(str(e)) from None
    return letter_year


LetterYear = Annotated[
    int,
    typer.Argument(
        parser=parse_letter_year,
        metavar="YEAR",
        help="The letter year, e.g. 2026 (the letters for 2025-26); 2025-26 works too.",
    ),
]
Json = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def read_document(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        fail(f"{path}: no such file", hint="give the path of the narrative document")
    except UnicodeDecodeError:
        fail(
            f"{path} is not UTF-8 text",
            hint="save the document as plain text (UTF-8), e.g. a .md or .txt file",
            code=ExitCode.INVALID_INPUT,
        )


def refuse_document(path: Path, problems: NarrativeError) -> None:
    for problem in problems.problems:
        err.print(f"{path}:{problem.line}: {problem.message}", markup=False, soft_wrap=True)
    fail(
        f"{path}: {len(problems.problems)} problem(s): nothing was registered",
        hint="fix the lines above and run the command again (docs/narratives.md)",
        code=ExitCode.INVALID_INPUT,
    )


def on_kafka(coro: Coroutine[Any, Any, T]) -> T:
    try:
        return run(coro)
    except (KafkaError, OSError, TimeoutError, LookupError) as e:
        fail(f"cannot reach the narratives on Kafka: {e}", hint=MAKE_UP, code=ExitCode.UNAVAILABLE)


def _described(v: NarrativeVersion) -> dict[str, Any]:
    return {
        "letter_year": v.letter_year,
        "version": v.version,
        "format": v.letter_format,
        "sha256": v.sha256,
        "registered_at": v.registered_at.isoformat() if v.registered_at else None,
        "registered_by": v.registered_by,
        "note": v.note,
        "shipped": v.version == 0,
    }


@app.command("check")
def check(
    file: Annotated[
        Path, typer.Argument(metavar="FILE", help="The narrative document (Markdown).")
    ],
) -> None:
    """Check a document without registering it: every problem, with its line."""
    markdown = read_document(file)
    try:
        doc = parse(markdown)
    except NarrativeError as problems:
        refuse_document(file, problems)
    used = ", ".join("{" + p + "}" for p in sorted(doc.placeholders)) or "none"
    out.print(f"{file}: fine (placeholders used: {used})")


@app.command("set")
def set_(
    year: LetterYear,
    file: Annotated[
        Path, typer.Argument(metavar="FILE", help="The narrative document (Markdown).")
    ],
    letter_format: Annotated[
        str | None,
        typer.Option(
            "--format",
            help=f"The statistics format ({', '.join(LETTER_FORMATS)}); needed only for a year "
            "after 2026. Default: the year's own (2020; 2021 for 2021-22 to 2023-24; 2025 "
            "for 2025-26).",
            show_default=False,
        ),
    ] = None,
    by: Annotated[str | None, typer.Option(help="Who registers it (kept with it).")] = None,
    note: Annotated[str | None, typer.Option(help="Why this version (kept with it).")] = None,
    json_output: Json = False,
) -> None:
    """Register a document as the year's next narrative version.

    Letters made after this (a close, a re-issue naming it, a proof) print it; letters already
    made keep the version they were made from.

      annual-review letters narrative set 2026 narrative-2026.md --by "J Smith"
    """
    markdown = read_document(file)
    fmt: LetterFormat | None = None
    if letter_format is not None:
        if letter_format not in LETTER_FORMATS:
            fail(f"unknown format {letter_format!r}: use one of {', '.join(LETTER_FORMATS)}")
        fmt = letter_format
    try:
        format_for(year, fmt)
        parse(markdown)
    except UnsupportedLetterYear as e:
        fail(str(e), code=ExitCode.INVALID_INPUT)
    except NarrativeError as problems:
        refuse_document(file, problems)
    # The workspace's use case: the version, then the action on the audit trail, as the
    # operator (services/office/narrative_actions.py).
    version, position = on_kafka(
        register_narrative(
            settings(), cli_actor(), year, markdown, letter_format=fmt, note=note, registered_by=by
        )
    )
    if json_output:
        print_json({**_described(version), "offset": position.offset})
        return
    out.print(
        f"[bold green]Registered[/] the {year} narrative as version {version.version} "
        f"(format {version.letter_format}, sha256 {version.sha256[:12]})"
    )


@app.command("show")
def show(
    year: LetterYear,
    version: Annotated[
        int | None, typer.Option(help="A version number; default: the one in force.")
    ] = None,
    json_output: Json = False,
) -> None:
    """Print a narrative version as written (the one in force by default)."""
    book = on_kafka(load_book(settings()))
    found = book.in_force(year) if version is None else book.version(year, version)
    if found is None:
        which = "no narrative" if version is None else f"no version {version} of the narrative"
        fail(
            f"{which} for the {year} letters",
            hint=f"register one: `annual-review letters narrative set {year} FILE`",
            code=ExitCode.INVALID_INPUT,
        )
    if json_output:
        print_json({**_described(found), "markdown": found.markdown})
        return
    err.print(f"# {year} narrative, version {found.version} (format {found.letter_format})")
    typer.echo(found.markdown, nl=not found.markdown.endswith("\n"))


@app.command("list")
def list_(json_output: Json = False) -> None:
    """Every version of every year's narrative, and any registration that was refused."""
    book: NarrativeBook = on_kafka(load_book(settings()))
    rows = [_described(v) for y in book.years() for v in book.versions[y]]
    if json_output:
        print_json({"versions": rows, "refused": [
            {"letter_year": x.letter_year, "registered_at": x.registered_at.isoformat(),
             "reason": x.reason}
            for x in book.refused
        ]})  # fmt: skip
        return
    t = Table("year", "version", "format", "sha256", "registered", "by", "note")
    for r in rows:
        t.add_row(
            str(r["letter_year"]),
            "0 (shipped)" if r["shipped"] else str(r["version"]),
            r["format"],
            r["sha256"][:12],
            (r["registered_at"] or "")[:16].replace("T", " "),
            r["registered_by"] or "",
            (r["note"] or "")[:40],
        )
    out.print(t)
    for x in book.refused:
        err.print(f"refused ({x.letter_year}): {x.reason}", markup=False, soft_wrap=True)
