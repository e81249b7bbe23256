"""``annual-review status``: is the pipeline healthy? Lag, positions, dead letters, years."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from aiokafka.errors import KafkaError
from rich.markup import escape
from rich.table import Table

from services.cli.common import ExitCode, fail, out, print_json, run, settings
from services.cli.db import DatabaseUnavailable, connection
from services.letters import operations
from services.projector.lag import status as projection_status
from services.readmodel.status import Status


def status(
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Is the pipeline healthy? Lag, positions, dead letters, years, letters.

    Lag per partition is the topic's end offset minus the projector's stored position;
    lag in seconds is the age of the oldest event still waiting.
    """

    async def go() -> tuple[Status, dict[str, Any]]:
        async with connection(settings()) as conn:
            st = await projection_status(conn, settings())
            return st, await operations.summary(conn)

    try:
        st, letters = run(go())
    except DatabaseUnavailable as e:
        fail(str(e), hint=e.hint, code=ExitCode.UNAVAILABLE, as_json=json_output)
    except (KafkaError, OSError) as e:
        fail(
            f"Kafka is not reachable ({type(e).__name__})",
            hint="run `make up` first",
            code=ExitCode.UNAVAILABLE,
            as_json=json_output,
        )
    result: dict[str, Any] = {**st.as_dict(), "letters": letters}
    if json_output:
        print_json(result)
        return
    lag_s = st.lag_seconds
    out.print(
        f"read models: [bold]{st.version}[/]   lag: [bold]{st.lag:,}[/] event(s)"
        + (f", oldest waiting behind {lag_s:.1f} s" if lag_s else "")
    )
    t = Table("partition", "position", "end offset", "lag", "last applied event")
    for p in st.partitions:
        t.add_row(
            str(p.partition),
            f"{p.position:,}",
            f"{p.end_offset:,}",
            f"{p.lag:,}",
            p.last_event_at.isoformat(timespec="seconds") if p.last_event_at else "—",
        )
    out.print(t)
    dl = st.dead_letters
    out.print("dead letters: " + (", ".join(f"{k} {v}" for k, v in sorted(dl.items())) or "none"))
    if st.parked:
        out.print(_parked_line(st.parked))
    for c in st.conflicts:
        what = f"case {c['case_reference']}" if c["kind"] == "case" else f"event {c['event_id']}"
        out.print(
            f"[red]conflict:[/] {what} on partitions {', '.join(map(str, c['partitions']))} "
            f"({'; '.join(c['council_years'])}): letter held"
        )
    for y in st.years:
        out.print(_year_line(y))
    if st.rebuilding:
        out.print(f"[yellow]rebuild under way[/]: version(s) {st.rebuilding}")
    if letters["by_state"]:
        out.print(
            "letters: " + ", ".join(f"{k} {v}" for k, v in sorted(letters["by_state"].items()))
        )
    for f in letters["failed"]:
        out.print(
            f"[red]failed[/] {f['council']} {f['financial_year']} v{f['version']}: "
            + escape(f["reason"]),
            soft_wrap=True,
        )


def _parked_line(parked: list[dict[str, Any]]) -> str:
    events = sum(p["events"] for p in parked)
    councils = len({p["council"] for p in parked})

    def one(p: dict[str, Any]) -> str:
        if not p["financial_year"]:
            return f"{p['council']} {p['events']}"
        closed = ", closed" if p["year_closed"] else ""
        return f"{p['council']} {p['events']} ({p['financial_year']}{closed})"

    shown = ", ".join(one(p) for p in parked[:12]) + (", …" if len(parked) > 12 else "")
    return (
        f"[yellow]parked:[/] {events:,} event(s) of {councils} council(s) not registered — "
        f"{shown}; each applies when its council is registered "
        f"(`annual-review dlq list --state parked`)"
    )


def _year_line(y: dict[str, Any]) -> str:
    cut = " ".join(f"{p}:{o}" for p, o in y["cuts"].items())
    joined = y["joined_after_close"]
    parts = [
        f"year {y['financial_year']}: cut on {y['closed_partitions']} partitions ({cut})",
        "snapshot complete" if y["complete"] else "[yellow]snapshot pending[/]",
        f"{y['councils']} councils",
    ]
    if joined:
        parts.append(
            f"[yellow]{len(joined)} registered after the close[/] ({', '.join(joined)}: "
            f"letter held)"
        )
    parts.append(f"{y['late_events']:,} late event(s)")
    if len(y["close_ids"]) > 1:
        parts.append(f"[yellow]cut by {len(y['close_ids'])} closes[/] (the earliest counts)")
    return ", ".join(parts)
