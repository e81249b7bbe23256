"""``annual-review status``: is the pipeline healthy? Lag, positions, dead letters, years."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from aiokafka.errors import KafkaError
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
    for y in st.years:
        out.print(
            f"year {y['financial_year']}: closed on {y['closed_partitions']} partitions, "
            + ("snapshot complete" if y["complete"] else "[yellow]snapshot pending[/]")
        )
    if st.rebuilding:
        out.print(f"[yellow]rebuild under way[/]: version(s) {st.rebuilding}")
    if letters["by_state"]:
        out.print(
            "letters: " + ", ".join(f"{k} {v}" for k, v in sorted(letters["by_state"].items()))
        )
    for f in letters["failed"]:
        out.print(
            f"[red]failed[/] {f['council']} {f['financial_year']} v{f['version']}: {f['reason']}",
            soft_wrap=True,
        )
