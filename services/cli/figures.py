"""``annual-review stats`` and ``averages``: a council's figures, the groups' averages."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Annotated, Any

import asyncpg
import typer
from rich.markup import escape
from rich.table import Table

from contracts.financial_year import FinancialYear
from services.cli.common import (
    ExitCode,
    fail,
    out,
    parse_council,
    parse_year,
    print_json,
    run,
    settings,
)
from services.cli.db import DatabaseUnavailable, connection
from services.domain.statistics import AveragingRule
from services.projector.as_of import positions_at, scratch_version
from services.projector.config import get_projector_settings
from services.readmodel.council_figures import (
    averages_dict,
    council_figures,
    live_averages,
    snapshot_averages,
)

YearArg = Annotated[
    FinancialYear,
    typer.Argument(parser=parse_year, metavar="YEAR", help="Financial year, e.g. 2019-20."),
]
Json = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


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


def _pct(value: int | None) -> str:
    return "—" if value is None else f"{value}%"


def stats(
    council: Annotated[
        str,
        typer.Argument(
            parser=parse_council,
            metavar="COUNCIL",
            help="Council code, e.g. MAN.",
            show_default=False,
        ),
    ],
    year: YearArg,
    as_of: Annotated[
        datetime | None,
        typer.Option(
            "--as-of",
            parser=parse_moment,
            metavar="TIMESTAMP",
            help="The figures as the system knew them at this moment (ISO 8601; UTC without "
            "a zone): the log as the broker had appended it then, folded again.",
        ),
    ] = None,
    until_offsets: Annotated[
        dict[int, int] | None,
        typer.Option(
            "--until-offsets",
            parser=parse_offsets,
            metavar="P=OFFSET,...",
            help="The figures of a replay stopped at these positions (the first offset not "
            "applied, per partition).",
        ),
    ] = None,
    json_output: Json = False,
) -> None:
    """A council's figures for a year, beside its comparison group's averages.

    Every count, the three rates (rounded half up for display), upheld decisions per
    100,000 residents, late events, open dead letters, and whether the closed year's
    snapshot (what the letter uses) differs from the live figures.

    With --as-of (or --until-offsets) the log up to that moment's positions is replayed
    into a scratch version of the read models, read, and dropped: the live figures are
    untouched. It needs the rights of `replay`, and takes as long as replaying that much
    of the log. Dead letters count as open there: operators' decisions are not in the log.
    """
    psettings = get_projector_settings()
    rule = psettings.averaging_rule
    if as_of is not None and until_offsets is not None:
        fail("give --as-of or --until-offsets, not both", code=ExitCode.USAGE)
    s = settings()
    moment: dict[str, Any] | None = None

    async def go() -> Any:
        nonlocal moment
        if as_of is None and until_offsets is None:
            async with connection(s) as conn:
                return await council_figures(conn, council.upper(), year, rule)
        until = until_offsets if until_offsets is not None else await positions_at(s, as_of)  # type: ignore[arg-type]
        moment = {
            "moment": as_of.isoformat() if as_of is not None else None,
            "positions": {str(p): o for p, o in sorted(until.items())},
        }
        workers = int(os.environ.get("AR_PROJECTOR_REBUILD_WORKERS", "1") or 1)
        async with scratch_version(s, psettings, until, workers=workers) as (conn, schema):
            return await council_figures(conn, council.upper(), year, rule, schema)

    try:
        figures = run(go())
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
    if figures is None:
        fail(
            f"no council {council.upper()} existed during {year}",
            hint="`annual-review councils import` registers councils",
            code=ExitCode.INVALID_INPUT,
        )
    d = figures.as_dict()
    if moment is not None:
        d["as_of"] = moment
    if json_output:
        print_json(d)
        return
    if moment is not None:
        at = f"as of {moment['moment']}" if moment["moment"] else "replayed"
        stops = ", ".join(f"{p}={o}" for p, o in moment["positions"].items())
        out.print(f"[bold]{at}[/]: the log up to positions {stops}")
    # Stored text is printed as text: a name holding Rich markup (`[/bold]`) is not markup.
    out.print(f"[bold]{escape(d['name'])}[/] ({d['council']}), {d['comparison_group']}, {year}")
    t = Table("statistic", "council", f"{d['comparison_group']} average", "based on")
    c, g = d["counts"], d["group_average"]
    t.add_row(
        "uphold rate",
        _pct(d["uphold_rate_percent"]),
        _pct(g["uphold_rate_percent"]),
        f"{c['upheld']} upheld of {d['detailed_investigations']} detailed investigations",
    )
    t.add_row(
        "compliance rate",
        _pct(d["compliance_rate_percent"]),
        _pct(g["compliance_rate_percent"]),
        f"{c['compliance_implemented']} implemented of {c['compliance_outcomes']} outcomes",
    )
    t.add_row(
        "satisfactory remedy rate",
        _pct(d["satisfactory_remedy_rate_percent"]),
        _pct(g["satisfactory_remedy_rate_percent"]),
        f"{c['satisfactory_remedies']} of {c['upheld']} upheld",
    )
    t.add_row(
        "upheld per 100,000 residents",
        d["upheld_per_100k"] or "—",
        g["upheld_per_100k"] or "—",
        f"population {d['population']:,} (the {d['population_year']} estimate)"
        if d["population"]
        else "no population registered",
    )
    out.print(t)
    other = {
        k: v for k, v in c.items() if k.startswith(("advice", "closed", "incomplete", "referred"))
    }
    out.print(
        "other decisions: " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in other.items())
    )
    if d["snapshot"]:
        out.print(
            "year closed: the letter uses the snapshot"
            + ("" if d["snapshot"] == c else " (live figures changed since: late events)")
        )
    if d["late_events"]:
        out.print(f"[yellow]{d['late_events']} late event(s)[/] arrived after the close")
    if d["open_dead_letters"]:
        out.print(f"[red]{d['open_dead_letters']} open dead letter(s)[/]: `annual-review dlq list`")


def averages(
    year: YearArg,
    snapshot: Annotated[
        bool, typer.Option("--snapshot", help="The closed year's frozen averages, not live.")
    ] = False,
    json_output: Json = False,
) -> None:
    """The five comparison groups' averages for a year, live or as frozen at the close."""
    rule = get_projector_settings().averaging_rule

    async def go() -> Any:
        async with connection(settings()) as conn:
            if snapshot:
                return await snapshot_averages(conn, year)
            return await live_averages(conn, year, rule)

    try:
        result = run(go())
    except DatabaseUnavailable as e:
        fail(str(e), hint=e.hint, code=ExitCode.UNAVAILABLE)
    rows = [averages_dict(a) for _, a in sorted(result.items())]
    if json_output:
        print_json(
            {"financial_year": year.label, "rule": rule.value, "snapshot": snapshot, "groups": rows}
        )
        return
    if not rows:
        fail(
            f"no figures for {year}" + (" (not closed yet?)" if snapshot else ""),
            code=ExitCode.INVALID_INPUT,
        )
    t = Table(
        "comparison group",
        "councils",
        "uphold",
        "compliance",
        "satisfactory remedy",
        "upheld per 100k",
        title=f"{year} averages ({'snapshot' if snapshot else 'live'}, {rule.value} of rates)"
        if rule is AveragingRule.MEAN_OF_RATES
        else f"{year} ({rule.value})",
    )
    for r in rows:
        t.add_row(
            r["comparison_group"],
            str(r["councils"]),
            _pct(r["uphold_rate_percent"]),
            _pct(r["compliance_rate_percent"]),
            _pct(r["satisfactory_remedy_rate_percent"]),
            r["upheld_per_100k"] or "—",
        )
    out.print(t)
