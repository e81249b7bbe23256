"""``annual-review config``: the effective settings, passwords masked."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from services.cli.common import out, print_json, settings
from services.platform.settings import Settings


def config(
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the settings as JSON.")
    ] = False,
) -> None:
    """Print the effective settings (passwords masked) and the variable that sets each.

    Every setting comes from the environment: AR_<NAME>, e.g.
    AR_KAFKA_BOOTSTRAP=127.0.0.1:19092 or AR_DATABASE_URL=postgresql://user:pw@host/db.
    """
    values = settings().redacted()
    if json_output:
        print_json(values)
        return
    table = Table(show_edge=False, box=None, padding=(0, 2))
    table.add_column("variable", style="bold")
    table.add_column("value", overflow="fold")
    table.add_column("meaning", style="dim")
    for name, value in values.items():
        field = Settings.model_fields.get(name)
        table.add_row(f"AR_{name.upper()}", str(value), field.description if field else "")
    out.print(table)
