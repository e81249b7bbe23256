"""The ``annual-review`` command: a thin registry of command groups, one line per module.

To add a command group: write ``services/cli/<name>.py`` with a ``typer.Typer`` (``app``)
or a command function, and register it below.
"""

from __future__ import annotations

import contextlib
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from services.cli import (
    close_year,
    config,
    councils,
    demo,
    dlq,
    explain,
    figures,
    letters,
    log_backup,
    publication,
    publish,
    replay,
    restore,
    serve,
    simulate,
    status,
)
from services.cli.errors import RefusingGroup
from services.cli.help_format import readable_help
from services.platform.logging import configure_logging
from services.platform.settings import Settings

HELP_OPTION_NAMES = ["-h", "--help"]


class RootGroup(RefusingGroup):
    """The ``annual-review`` group: refuses bad input with a message (``RefusingGroup``),
    and every command's ``--help`` names values as an operator types them (``readable_help``)."""

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        # Here rather than in __init__: typer adds --install-completion after building us.
        readable_help(self, HELP_OPTION_NAMES)
        return super().make_context(*args, **kwargs)


app = typer.Typer(
    name="annual-review",
    cls=RootGroup,  # bad input that escapes a command: a message, never a traceback
    help="Casework of the Local Government and Social Care Ombudsman -> per-council "
    "statistics and Annual Review letters.\n\nSettings come from AR_* environment "
    "variables (`annual-review config`). Start the local servers with `make up`.",
    no_args_is_help=True,
    context_settings={"help_option_names": HELP_OPTION_NAMES},
    pretty_exceptions_show_locals=False,
)


def _version(value: bool) -> None:
    if value:
        try:
            typer.echo(f"annual-review {version('annual-review')}")
        except PackageNotFoundError:
            typer.echo("annual-review (not installed: run `.venv/bin/pip install -e .`)")
        raise typer.Exit()


@app.callback()
def main(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Casework -> statistics -> Annual Review letters."""
    # Logs go to stderr (as JSON when not on a terminal), so stdout stays for the output;
    # on a terminal, a person reads them: brief lines without timestamps.
    with contextlib.suppress(ValidationError, ValueError):
        configure_logging(Settings(), for_a_person=True)


app.add_typer(councils.app, name="councils")
app.command("publish")(publish.publish)
app.add_typer(publication.app, name="publication")
app.command("simulate")(simulate.simulate)
app.command("close-year")(close_year.close_year)
app.add_typer(serve.app, name="serve")
app.command("config")(config.config)
app.command("stats")(figures.stats)
app.command("averages")(figures.averages)
app.command("explain")(explain.explain)
app.command("status")(status.status)
app.command("replay")(replay.replay)
app.command("restore")(restore.restore)
app.add_typer(dlq.app, name="dlq")
app.add_typer(letters.app, name="letters")
app.add_typer(log_backup.app, name="log")
app.command("demo")(demo.demo)

if __name__ == "__main__":
    app(prog_name="annual-review")
