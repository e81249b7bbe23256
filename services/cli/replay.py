"""``annual-review replay``: rebuild every read model from the log, without downtime."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from services.cli.common import ExitCode, err, fail, out, print_json, run, settings
from services.cli.db import DatabaseUnavailable, connection
from services.cli.progress import progress
from services.projector.config import get_projector_settings
from services.projector.rebuild import RebuildProgress, rebuild
from services.readmodel.versions import cancel_building


def replay(
    cancel: Annotated[
        bool, typer.Option("--cancel", help="Drop an unfinished rebuild instead of running one.")
    ] = False,
    accept_differences: Annotated[
        bool,
        typer.Option(
            "--accept-differences",
            help="Switch even when the rebuilt version differs from the live one.",
        ),
    ] = False,
    upgrade: Annotated[
        bool,
        typer.Option(
            "--upgrade",
            help="The live version is of an older format (the projector refuses it): build "
            "the current one, report what changed and switch to it.",
        ),
    ] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Rebuild every statistic from the log, without downtime.

    Fills a new version of the read models from the start of the log while the current
    version keeps answering queries and the live projector keeps running; then compares
    the two, table by table, and switches readers to the new version in one transaction.
    The figures do not depend on the order the log's partitions are read in, so they must
    be identical: if they differ, readers stay on the live version and the new one is kept
    for inspection (exit code 4) unless --accept-differences (or --upgrade) is given.
    Interrupt it (Ctrl-C) and run it again to resume. A replay never sends a letter or
    publishes anything.
    """
    s = settings()
    if cancel:

        async def drop() -> list[int]:
            async with connection(s) as conn:
                return await cancel_building(conn)

        try:
            dropped = run(drop())
        except DatabaseUnavailable as e:
            fail(str(e), hint=e.hint, code=ExitCode.UNAVAILABLE)
        out.print(f"cancelled rebuild version(s): {dropped}" if dropped else "no rebuild under way")
        return

    with progress(total_known=False, disable=json_output) as bar:
        task = bar.add_task("replaying the log", total=None)

        def show(p: RebuildProgress) -> None:
            bar.update(
                task,
                completed=p.applied,
                description=f"replaying: {p.events_per_second:,.0f} events/s, "
                f"{p.remaining:,} to go",
            )

        try:
            report = run(
                rebuild(
                    s, get_projector_settings(), on_progress=show,
                    accept_differences=accept_differences or upgrade,
                )
            )  # fmt: skip
        except OSError as e:
            fail(
                f"cannot reach the servers ({e})",
                hint="run `make up` first",
                code=ExitCode.UNAVAILABLE,
            )
    assert report is not None
    result: dict[str, Any] = {
        "version": report.version,
        "previous": report.previous_schema,
        "events": report.events,
        "seconds": round(report.seconds, 2),
        "identical": report.identical,
        "switched": report.switched,
        "tables": [
            {
                "table": c.table,
                "live_rows": c.live_rows,
                "rebuilt_rows": c.rebuilt_rows,
                "only_live": c.only_live,
                "only_rebuilt": c.only_rebuilt,
            }
            for c in report.comparison
        ],
    }
    if json_output:
        print_json(result)
    else:
        t = Table(
            "table",
            "live rows",
            "rebuilt rows",
            "only in live",
            "only in rebuilt",
            title=f"rebuilt version {report.version} compared with {report.previous_schema}",
        )
        for c in report.comparison:
            t.add_row(
                c.table,
                f"{c.live_rows:,}",
                f"{c.rebuilt_rows:,}",
                str(c.only_live),
                str(c.only_rebuilt),
                style=None if c.identical else "red",
            )
        out.print(t)
        if report.switched:
            out.print(
                f"{report.events:,} events in {report.seconds:.1f} s; readers now use "
                f"version {report.version}: "
                + (
                    "[green]identical to the live figures[/]"
                    if report.identical
                    else "[red]DIFFERENT from the live figures[/] (the old version is kept)"
                )
            )
        else:
            out.print(
                f"{report.events:,} events in {report.seconds:.1f} s; [red]version "
                f"{report.version} differs from the live figures[/]: not switched, readers "
                f"stay on {report.previous_schema}"
            )
    if not report.switched:
        err.print(
            f"the rebuilt figures differ: compare {report.previous_schema} with "
            f"rm_v{report.version}, then `annual-review replay --accept-differences` to switch "
            f"or `annual-review replay --cancel` to drop it"
        )
        raise typer.Exit(int(ExitCode.PARTIAL))
    if not report.identical:
        err.print("the rebuilt figures differ: investigate before dropping the old version")
        raise typer.Exit(int(ExitCode.PARTIAL))
