"""``annual-review councils ...``: register councils from a CSV file."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from contracts.financial_year import FinancialYear
from services.cli.bulk_publish import PartiallyPublished, print_summary, publish_all, report_partial
from services.cli.common import (
    ExitCode,
    err,
    fail,
    out,
    parse_year,
    print_json,
    run,
    settings,
)
from services.councils.importer import (
    CsvFileError,
    CsvFormat,
    ImportReport,
    read_councils,
    registration_events,
)
from services.councils.sample import sample_text
from services.platform.kafka.reachability import KafkaUnavailable

PRODUCER = "annual-review-cli"

app = typer.Typer(
    help="Register councils (CouncilRegistered events) from a CSV file.",
    no_args_is_help=True,
)


def _print_report(path: Path, report: ImportReport, year: FinancialYear | None) -> None:
    scope = f" that existed during {year}" if year else ""
    out.print(
        f"[bold]{path}[/] ({report.format.value} format): {report.rows:,} row(s), "
        f"{len(report.councils):,} council(s){scope}"
    )
    groups = Table(show_edge=False, box=None, padding=(0, 2))
    groups.add_column("comparison group")
    groups.add_column("councils", justify="right")
    for group, n in report.by_group().items():
        groups.add_row(group, f"{n:,}")
    out.print(groups)
    if report.skipped:
        skipped = Table(title="Skipped", title_justify="left", show_edge=False, box=None)
        skipped.add_column("reason")
        skipped.add_column("rows", justify="right")
        for reason, n in sorted(report.skipped.items()):
            skipped.add_row(reason, f"{n:,}")
        out.print(skipped)
    if report.invalid:
        table = Table(title=f"Invalid rows in {path}", title_justify="left")
        table.add_column("line", justify="right", style="bold")
        table.add_column("code")
        table.add_column("reason", style="red", overflow="fold")
        for row in report.invalid:
            table.add_row(str(row.line), row.code or "", row.reason)
        err.print(table)


@app.command("import")
def import_(
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV file: the project's format or mySociety's register of local authorities.",
            exists=True,
            dir_okay=False,
            readable=True,
            show_default=False,
        ),
    ],
    fmt: Annotated[
        CsvFormat,
        typer.Option(
            "--format",
            help="auto: recognised from the header row; project: docs/cli.md; mysociety: "
            "uk_local_authorities.csv (England only, placeholder chief executives).",
            case_sensitive=False,
        ),
    ] = CsvFormat.AUTO,
    year: Annotated[
        FinancialYear | None,
        typer.Option(
            parser=parse_year,
            metavar="YEAR",
            help="Only councils that existed during any part of this financial year, e.g. 2019-20.",
            show_default=False,
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check and report; publish nothing.")
    ] = False,
    skip_invalid: Annotated[
        bool,
        typer.Option(
            "--skip-invalid", help="Publish the valid rows even if some rows are invalid."
        ),
    ] = False,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the report (and what was published) as JSON.")
    ] = False,
) -> None:
    """Read councils from FILE and publish one CouncilRegistered event per council.

    Events are keyed by council code. Registering a council again restates all its details
    (the projector keeps the latest). Invalid rows are listed with their line numbers; if
    any row is invalid nothing is published (exit code 1) unless --skip-invalid is given.
    mySociety's register: English councils only, combined authorities and other nations
    are skipped and counted; it names no chief executive, so each council gets a
    placeholder addressee (chief.executive@<slug>.example) until a project-format file
    gives the real one.
    """
    try:
        report = read_councils(file, fmt=fmt, year=year)
    except CsvFileError as e:
        fail(f"{file}: {e}", hint="use --format to say which format the file is in")
    except UnicodeDecodeError as e:
        fail(f"{file} is not UTF-8 text: {e}", hint="save the CSV as UTF-8")
    blocked = bool(report.invalid) and not skip_invalid
    if not json_output:
        _print_report(file, report, year)
    result: dict[str, object] = {"file": str(file), **report.as_dict(), "published": 0}
    if blocked:
        if json_output:
            print_json(result)
        else:
            err.print(
                f"[bold red]error:[/] {len(report.invalid)} invalid row(s): nothing was "
                "published. Fix them, or use --skip-invalid to publish the valid rows."
            )
        raise typer.Exit(int(ExitCode.INVALID_INPUT))
    if dry_run or not report.councils:
        if json_output:
            print_json({**result, "dry_run": dry_run})
        elif dry_run:
            out.print("[yellow]dry run:[/] nothing published")
        else:
            err.print("[yellow]warning:[/] no councils to publish")
        return
    events = registration_events(report.councils, producer=PRODUCER)
    try:
        summary = run(
            publish_all(
                settings(),
                events,
                total=len(events),
                description="registering councils",
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
        raise typer.Exit(int(ExitCode.PARTIAL)) from None
    if json_output:
        print_json({**result, **summary.as_dict()})
    else:
        print_summary(summary)


@app.command("sample")
def sample(
    out_file: Annotated[
        Path | None,
        typer.Option("--out", help="Write to this file instead of standard output."),
    ] = None,
) -> None:
    """Print the built-in sample of 12 councils (project CSV format), e.g. to edit it.

    Mansfield District Council (code MAN) has its real chief executive of 2020; the
    others have placeholder addressees.
    """
    text = sample_text()
    if out_file is None:
        sys.stdout.write(text)
    else:
        out_file.write_text(text, encoding="utf-8")
        err.print(f"wrote {out_file}")
