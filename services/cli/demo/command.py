"""The ``demo`` command: its options, and the steps in order (each in its own module)."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from services.cli.common import ExitCode, err, fail, run, settings
from services.cli.demo.letters import letter_count, wait_for_letters, write_letters
from services.cli.demo.site import show_site
from services.cli.demo.stage import staged
from services.cli.demo.summary import Summary, print_summary
from services.cli.demo.year import YEAR, choose_councils, close, publish, simulate
from services.cli.progress import progress
from services.platform.logging import configure_logging
from services.platform.settings import Settings


def demo(
    out_dir: Annotated[Path, typer.Option(help="Where the letters and logs go.")] = Path(
        "out/demo"
    ),
    events: Annotated[int, typer.Option(min=1, help="Simulated casework events.")] = 15_000,
    seed: Annotated[int, typer.Option(help="Simulation seed.")] = 2020,
    register: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            dir_okay=False,
            envvar="AR_DEMO_REGISTER",
            help="mySociety's register of local authorities (uk_local_authorities.csv): "
            "its councils of 2019-20 instead of the built-in sample of 12.",
        ),
    ] = None,
    keep: Annotated[
        bool, typer.Option(help="Keep the demo's database and topics afterwards.")
    ] = False,
    timeout: Annotated[float, typer.Option(min=1, help="Seconds to wait for the letters.")] = 600.0,
    serve: Annotated[
        bool | None,
        typer.Option(
            help="Serve the web site until Ctrl-C at the end (default: on a terminal). "
            "Without it the Mansfield page is fetched once and checked.",
            show_default=False,
        ),
    ] = None,
    web_port: Annotated[
        int, typer.Option(min=1, max=65535, help="Port of the web site (if free).")
    ] = 8080,
) -> None:
    """Run a whole 2019-20 year end: councils, casework, close, letters by email.

    Needs Kafka and PostgreSQL (`make up`; `make demo` does it all). Starts a local SMTP
    server and the projector and letter services itself, publishes the year and starts the
    web site, and stops them all at the end.
    """
    base = settings()
    logs_for_a_person(base)
    out_dir.mkdir(parents=True, exist_ok=True)
    if serve is None:
        serve = sys.stdin.isatty() and sys.stdout.isatty()
    try:
        summary = run(run_demo(base, out_dir, events, seed, register, keep, timeout,
                               serve=serve, web_port=web_port))  # fmt: skip
    except TimeoutError as e:
        fail(str(e), hint=f"see the service logs in {out_dir / 'logs'}", code=ExitCode.PARTIAL)
    except OSError as e:
        fail(
            f"cannot reach the servers ({e})", hint="run `make up` first", code=ExitCode.UNAVAILABLE
        )
    print_summary(summary, out_dir)


def logs_for_a_person(base: Settings) -> None:
    """The demo's own log lines (the services log to files) are read by a person, at a
    terminal or in CI's log: brief console lines, unless AR_LOG_FORMAT asks for JSON. The
    demo says each step itself, so the INFO lines of what it calls (the migrations, the
    publication job) would only repeat it: warnings and errors only, unless AR_LOG_LEVEL
    asks for DEBUG."""
    update: dict[str, str] = {}
    if base.log_format == "auto":
        update["log_format"] = "console"
    if base.log_level.upper() == "INFO":
        update["log_level"] = "WARNING"
    configure_logging(base.model_copy(update=update), for_a_person=True)


async def run_demo(
    base: Settings,
    out_dir: Path,
    n_events: int,
    seed: int,
    register: Path | None,
    keep: bool,
    wait_s: float,
    *,
    serve: bool = False,
    web_port: int = 8080,
) -> Summary:
    started = time.monotonic()
    async with staged(base, out_dir, keep=keep) as stage:
        err.print(
            f"namespace {stage.name}: a database and topics of its own; services started",
            soft_wrap=True,
        )
        councils = choose_councils(register)
        err.print(f"councils: {len(councils.chosen)} from {councils.source}", soft_wrap=True)
        year = simulate(councils.chosen, n_events, seed)
        await publish(stage.ns, year.registrations)
        await publish(stage.ns, year.casework)
        err.print(f"published {year.events:,} events; closing {YEAR}", soft_wrap=True)
        await close(stage.ns)
        async with letter_count(stage.ns) as count:
            with progress() as tracker:
                sent = await wait_for_letters(count, stage, wait_s, tracker)
        mansfield = councils.mansfield.code if councils.mansfield else None
        written = await write_letters(stage.ns, out_dir / "letters", mansfield)
        site = await show_site(stage, serve=serve, port=web_port, mansfield=mansfield)
        return Summary(
            namespace=stage.name,
            kept=keep,
            councils=len(councils.chosen),
            source=councils.source,
            events=year.events,
            letters_sent=sent,
            letters=written.letters,
            emails_in_maildir=stage.emails(),
            files=written.files,
            mansfield=written.mansfield,
            mansfield_code=mansfield,
            seconds=time.monotonic() - started,
            site=site,
        )
