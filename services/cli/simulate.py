"""``annual-review simulate``: write a year of simulated casework as JSON Lines."""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import IO, Annotated, Any

import typer

from contracts.codec import encode
from contracts.envelope import Envelope
from contracts.financial_year import FinancialYear
from services.cli.common import (
    err,
    fail,
    out,
    parse_share,
    parse_year,
    print_json,
)
from services.cli.progress import progress
from services.councils.importer import CsvFileError, read_councils
from services.simulator.generator import SimulationError, simulate_year

PROGRESS_EVERY = 5_000
DEFAULT_YEAR = FinancialYear(2019)


def to_line(item: Envelope[Any] | dict[str, Any]) -> bytes:
    """One JSON Lines line: the wire form of a valid event, or compact JSON of an invalid one."""
    if isinstance(item, Envelope):
        return encode(item) + b"\n"
    return json.dumps(item, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


def simulate(
    out_file: Annotated[
        Path,
        typer.Option(
            "--out",
            "-o",
            help="Where to write the JSON Lines ('-' for standard output).",
            dir_okay=False,
            show_default=False,
        ),
    ],
    year: Annotated[
        FinancialYear,
        typer.Option(parser=parse_year, metavar="YEAR", help="The financial year, e.g. 2019-20."),
    ] = DEFAULT_YEAR,
    councils: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="How many councils: the built-in sample's 12 first, then synthetic ones "
            "(SIM0001...). Default: the built-in sample.",
            show_default=False,
        ),
    ] = None,
    councils_file: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            dir_okay=False,
            readable=True,
            help="Take the councils from this CSV (project or mySociety format); with "
            "--councils N, the first N of them.",
            show_default=False,
        ),
    ] = None,
    events: Annotated[
        int, typer.Option(min=0, help="How many casework events (registrations not counted).")
    ] = 2_000,
    seed: Annotated[
        int, typer.Option(help="Random seed: the same arguments give the same bytes.")
    ] = 1,
    invalid_share: Annotated[
        float,
        typer.Option(parser=parse_share, help="Share of events that are invalid by contract."),
    ] = 0.01,
    corrections_share: Annotated[
        float,
        typer.Option(parser=parse_share, help="Share of events that re-decide an earlier case."),
    ] = 0.02,
    withdrawals_share: Annotated[
        float,
        typer.Option(parser=parse_share, help="Share of events that withdraw an earlier decision."),
    ] = 0.005,
    include_registrations: Annotated[
        bool,
        typer.Option(
            "--include-registrations/--no-include-registrations",
            help="Start with a CouncilRegistered event per council.",
        ),
    ] = True,
    mansfield_real: Annotated[
        bool | None,
        typer.Option(
            "--mansfield-real/--no-mansfield-real",
            help="Give Mansfield District Council exactly its real 2019-20 figures (2 "
            "detailed investigations, 1 upheld, 1 compliance outcome) and nothing else. "
            "Default: on for 2019-20 when Mansfield is among the councils.",
            show_default=False,
        ),
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the summary as JSON on standard output.")
    ] = False,
) -> None:
    """Write one financial year of simulated casework to a JSON Lines file.

    Deterministic: the same arguments and seed give a byte-identical file. Decisions are
    spread over the year's working days with the national outcome mix of docs/domain.md
    §13; compliance outcomes follow upheld decisions; a share of events correct or
    withdraw earlier cases, and a share are invalid by contract (each kind of mistake the
    projector must dead-letter). Publish the file with `annual-review publish`, which
    refuses a file with invalid lines: use --invalid-share 0 for a file to publish.
    """
    if councils_file is not None:
        try:
            report = read_councils(councils_file, year=year)
        except (CsvFileError, UnicodeDecodeError) as e:
            fail(f"{councils_file}: {e}", hint="see `annual-review councils import --help`")
        if report.invalid:
            first = report.invalid[0]
            fail(
                f"{councils_file} has {len(report.invalid)} invalid row(s), first on line "
                f"{first.line}: {first.reason}",
                hint=f"check it with `annual-review councils import {councils_file} --dry-run`",
            )
        chosen: Any = report.councils[:councils] if councils else report.councils
    else:
        chosen = councils
    try:
        stream = simulate_year(
            year,
            councils=chosen,
            events=events,
            seed=seed,
            invalid_share=invalid_share,
            corrections_share=corrections_share,
            withdrawals_share=withdrawals_share,
            include_registrations=include_registrations,
            mansfield_real=mansfield_real,
        )
    except SimulationError as e:
        fail(str(e))
    to_stdout = str(out_file) == "-"
    counts: Counter[str] = Counter()
    started = time.perf_counter()
    target: IO[bytes]
    try:
        target = sys.stdout.buffer if to_stdout else out_file.open("wb", buffering=1 << 20)
    except OSError as e:
        fail(f"cannot write {out_file}: {e.strerror}", hint="check the directory exists")
    written = 0
    try:
        with progress(disable=json_output or to_stdout) as bar:
            task = bar.add_task(f"simulating {year}", total=events)
            pending = 0
            for item in stream:
                target.write(to_line(item))
                counts[item.type if isinstance(item, Envelope) else "invalid"] += 1
                written += 1
                pending += 1
                if pending == PROGRESS_EVERY:
                    bar.advance(task, pending)
                    pending = 0
            bar.update(task, completed=events)
    finally:
        if not to_stdout:
            target.close()
    seconds = time.perf_counter() - started
    summary = {
        "file": str(out_file),
        "year": year.label,
        "seed": seed,
        "lines": written,
        "by_type": dict(sorted(counts.items())),
        "seconds": round(seconds, 3),
        "events_per_second": round(written / seconds) if seconds else None,
    }
    if json_output:
        print_json(summary)
        return
    console = err if to_stdout else out
    console.print(
        f"[bold green]Wrote {written:,} line(s)[/] to {out_file} in {seconds:.1f}s "
        f"({summary['events_per_second'] or 0:,} events/s)"
    )
    for kind, n in sorted(counts.items()):
        console.print(f"  {kind:<28} {n:>10,}")
    if counts["invalid"]:
        console.print(
            "[yellow]note:[/] the file has invalid events on purpose, so `annual-review "
            "publish` will refuse it; simulate with --invalid-share 0 for a file to publish"
        )
