"""``annual-review stats`` and ``averages``: a council's figures, the groups' averages."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from contracts.financial_year import FinancialYear
from services.cli.as_of import AsOfOption, Then, UntilOffsetsOption, read_models, run_reading
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
    as_of: AsOfOption = None,
    until_offsets: UntilOffsetsOption = None,
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
    rule = get_projector_settings().averaging_rule
    then = Then(as_of, until_offsets)

    async def go() -> Any:
        async with read_models(settings(), then) as (conn, schema):
            return await council_figures(conn, council.upper(), year, rule, schema)

    figures = run_reading(go)
    if figures is None:
        fail(
            f"no council {council.upper()} existed during {year}",
            hint="`annual-review councils import` registers councils",
            code=ExitCode.INVALID_INPUT,
        )
    d = figures.as_dict()
    if not then.live:
        d["as_of"] = then.as_dict()
    if json_output:
        print_json(d)
        return
    then.print_heading()
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
