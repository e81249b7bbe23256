"""``annual-review explain``: why a figure is what it is, case by case, from the read model."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape

from contracts.financial_year import FinancialYear
from services.cli.as_of import AsOfOption, Then, UntilOffsetsOption, read_models, run_reading
from services.cli.common import (
    ExitCode,
    fail,
    out,
    parse_council,
    parse_year,
    print_json,
    settings,
)
from services.domain.explanation import (
    STATISTICS,
    Explanation,
    Refusal,
    as_dict,
    history_dicts,
)
from services.domain.fold import CaseEvent
from services.readmodel.explain_reads import case_history, explain_council_year


def explain(
    subject: Annotated[
        str,
        typer.Argument(
            metavar="COUNCIL|CASE_REF",
            help="A council code (e.g. MAN) with a YEAR, or a case reference alone.",
            show_default=False,
        ),
    ],
    year: Annotated[
        str | None,
        typer.Argument(metavar="[YEAR]", help="Financial year, e.g. 2019-20.", show_default=False),
    ] = None,
    statistic: Annotated[
        str | None,
        typer.Argument(
            metavar="[STATISTIC]",
            help="One statistic: " + ", ".join(STATISTICS) + " (default: every one).",
            show_default=False,
        ),
    ] = None,
    as_of: AsOfOption = None,
    until_offsets: UntilOffsetsOption = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Which cases make up a council-year's figures, and why a case is not in them.

    For each statistic: the letter's figure (the snapshot at the close) beside the live
    one, the cases that count (reference, decision date, outcome, remedy, each event of
    their history with its partition and offset), the cases that do not and why
    (withdrawn, outside the year, not an investigation, dead-lettered, parked, refused as
    a conflict), and the events after the year's cut with what each changed. With a case
    reference alone: that case's history.

    With --as-of (or --until-offsets): the explanation as the system knew it then, from
    the log up to that moment's positions replayed into a scratch version of the read
    models (as `stats --as-of`): the letter's figure is the snapshot if the year's close
    had been read by then. It needs the rights of `replay`.
    """
    then = Then(as_of, until_offsets)
    if year is None:
        _explain_case(subject, then, json_output)
        return
    # Checked as the arguments' parsers would (exit 2, typer's message): which arguments
    # are given decides what the first one is, so they cannot be typer's parsers.
    council = parse_council(subject)
    fy = parse_year(year)
    if statistic is not None and statistic not in STATISTICS:
        raise typer.BadParameter(f"{statistic!r} is not one of {', '.join(STATISTICS)}")

    async def go() -> Explanation:
        async with read_models(settings(), then) as (conn, schema):
            return await explain_council_year(conn, council, fy, schema)

    x = run_reading(go)
    d = as_dict(x)
    if statistic is not None:
        d["statistics"] = [s for s in d["statistics"] if s["statistic"] == statistic]
    if not then.live:
        d["as_of"] = then.as_dict()
    if json_output:
        print_json(d)
        return
    then.print_heading()
    _print_council_year(d, fy, live=then.live)


def _print_council_year(d: dict[str, Any], year: FinancialYear, *, live: bool) -> None:
    # As of a moment, the "live" figure is the one of that moment: say "then".
    now = "live" if live else "then"
    if d["cut"]:
        state = "the letter's figures are the snapshot at the year's cut"
    elif live:
        state = "the year is not closed: live figures only"
    else:
        state = "the year was not closed then: the figures of that moment only"
    out.print(f"[bold]{d['council']}[/], {year}: {state}")
    for s in d["statistics"]:
        letter = "—" if s["letter"] is None else str(s["letter"])
        out.print(
            f"\n[bold]{escape(s['label'])}[/]: letter {letter}, {now} {s['live']}"
            + ("" if s["consistent"] else f" [red](cases at the cut: {s['letter_from_cases']})[/]")
        )
        for c in s["cases"]:
            remedy = ", satisfactory remedy" if c["satisfactory_remedy"] else ""
            what = (
                ("implemented" if c["implemented"] else "not implemented")
                if "implemented" in c
                else f"{c['outcome']}{remedy}"
            )
            out.print(f"  {escape(c['case_reference'])}  {c['decision_date']}  {what}")
            for h in d["cases"][c["case_reference"]]:
                out.print("      " + _history_line(h))
        if s["left_out"]:
            out.print("  not counted:")
        for o in s["left_out"]:
            out.print(f"  {escape(o['case_reference'] or '?')}  {o['reason']}: {escape(o['why'])}")
    if d["late_events"]:
        out.print("\n[bold]late events[/] (after the cut: in the live figures, not the letter's)")
    for e in d["late_events"]:
        effect = ", ".join(f"{k} {v:+d}" for k, v in e["effect"].items()) or "no figure changed"
        out.print(f"  {escape(e['case_reference'])}  {_history_line(e)}: {effect}")


def _history_line(h: dict[str, Any]) -> str:
    return (
        f"{h['event_type']} {h['event_id']} partition {h['partition']} offset {h['offset']} "
        f"at {h['occurred_at']}: {escape('; '.join(h['changes']))}"
    )


def _explain_case(case_reference: str, then: Then, json_output: bool) -> None:
    async def go() -> tuple[list[CaseEvent], list[Refusal]]:
        async with read_models(settings(), then) as (conn, schema):
            return await case_history(conn, case_reference, schema)

    lines, refusals = run_reading(go)
    if not lines and not refusals:
        fail(
            f"no case {case_reference!r} in the read model"
            + ("" if then.live else " at that moment"),
            code=ExitCode.INVALID_INPUT,
        )
    history = [
        {**h, "council": line.council} for h, line in zip(history_dicts(lines), lines, strict=True)
    ]
    d: dict[str, Any] = {
        "case_reference": case_reference,
        "history": history,
        "refused": [
            {
                "partition": r.partition,
                "offset": r.offset,
                "event_id": r.event_id,
                "event_type": r.event_type,
                "reason": r.reason,
                "status": r.status,
                "detail": r.detail,
            }
            for r in refusals
        ],
    }
    if not then.live:
        d["as_of"] = then.as_dict()
    if json_output:
        print_json(d)
        return
    then.print_heading()
    out.print(f"[bold]case {escape(case_reference)}[/]")
    for h in history:
        out.print(f"  {h['council']} {_history_line(h)}")
    for r in refusals:
        out.print(
            f"  refused: {r.event_type} partition {r.partition} offset {r.offset} "
            f"({r.reason}, {r.status}): {escape(r.detail)}"
        )
