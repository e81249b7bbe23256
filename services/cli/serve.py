"""``annual-review serve ...``: run a service in the foreground (Ctrl-C stops it).

The services are imported only when started, so ``--help`` works without them.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from services.cli.common import ExitCode, err, fail, settings
from services.platform.kafka.reachability import TLS_HINT
from services.platform.kafka.tls import KafkaTlsError

app = typer.Typer(
    help="Run a service in the foreground: the projector, the letters service, the web site, "
    "the office workspace, the publication job, or a local SMTP server. Configuration comes "
    "from the AR_* environment (`annual-review config`).",
    no_args_is_help=True,
)


def _load(module: str, name: str) -> Any:
    try:
        return getattr(importlib.import_module(module), name)
    except ModuleNotFoundError as e:
        fail(
            f"{module} cannot be imported ({e}): this service is not installed in this checkout",
            hint="update the checkout and reinstall (`.venv/bin/pip install -e .`)",
        )
    except AttributeError:
        fail(f"{module} has no {name}(): this checkout's service is incomplete")


def _run_app(module: str) -> None:
    create_app = _load(module, "create_app")
    settings()  # fail early, with a clear message, on a bad AR_* environment
    try:
        asyncio.run(create_app().run())
    except KeyboardInterrupt:
        err.print("stopped")
    except KafkaTlsError as e:
        fail(str(e), hint=TLS_HINT)
    except OSError as e:
        fail(
            f"the service stopped: {e}",
            hint="are Kafka and PostgreSQL running? `make up` starts them",
            code=ExitCode.UNAVAILABLE,
        )


@app.command("projector")
def projector() -> None:
    """Run the projector: folds casework.facts into the statistics in PostgreSQL.

    Needs Kafka (AR_KAFKA_BOOTSTRAP) and PostgreSQL (AR_DATABASE_URL); `make up` starts both.
    """
    _run_app("services.projector.app")


@app.command("letters")
def letters() -> None:
    """Run the letters service: renders and sends the Annual Review letters of closed years."""
    _run_app("services.letters.app")


@app.command("web")
def web() -> None:
    """Run the public web site, "Your council's performance" (read-only; docs/web.md).

    Listens on AR_WEB_HOST:AR_WEB_PORT (127.0.0.1:8080); run it as principal `web`
    (role ar_web), which can read only what is published.
    """
    serve_site = _load("services.web.app", "serve")
    settings()
    try:
        serve_site()
    except KeyboardInterrupt:
        err.print("stopped")


@app.command("office")
def office() -> None:
    """Run the office workspace, for the Ombudsman's staff (docs/office.md).

    Listens on AR_OFFICE_HOST:AR_OFFICE_PORT (127.0.0.1:8090); staff sign in through the
    office's OpenID provider (AR_OFFICE_OIDC_METADATA_URL). Run it as principal `office`
    (role ar_office): it refuses any other database role.
    """
    serve_office = _load("services.office.app", "serve")
    get_office_settings = _load("services.office.config", "get_office_settings")
    settings()
    try:
        get_office_settings()
    except ValidationError as e:
        problems = "; ".join(
            f"AR_OFFICE_{'.'.join(map(str, p['loc'])).upper()}: {p['msg']}"
            for p in e.errors(include_url=False)
        )
        fail(
            f"the office workspace's configuration is invalid: {problems}",
            hint="docs/office.md, Settings",
        )
    try:
        serve_office()
    except KeyboardInterrupt:
        err.print("stopped")


@app.command("publication")
def publication() -> None:
    """Run the publication job: publishes each closed year at 00:00 UK time on its
    publication date (checks every AR_PUBLICATION_INTERVAL_S seconds)."""
    run_forever = _load("services.publication.app", "run_forever")
    cannot_publish = _load("services.publication.app", "CannotPublish")
    get_publication_settings = _load("services.publication.config", "get_publication_settings")
    try:
        asyncio.run(run_forever(settings(), get_publication_settings().interval_s))
    except KeyboardInterrupt:
        err.print("stopped")
    except cannot_publish as e:
        fail(str(e))
    except OSError as e:
        fail(f"the job stopped: {e}", hint="is PostgreSQL running?", code=ExitCode.UNAVAILABLE)


@app.command("smtp")
def smtp(
    port: Annotated[
        int, typer.Option(min=1, max=65535, help="Port to listen on (loopback).")
    ] = 2525,
    maildir: Annotated[
        Path | None,
        typer.Option(
            file_okay=False,
            help="Store each received message in this Maildir. Default: the server's own choice.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run a local SMTP server that receives the letters (for development and tests)."""
    main = _load("services.letters.smtp_server", "main")
    params = inspect.signature(main).parameters
    kwargs: dict[str, Any] = {}
    if "port" in params:
        kwargs["port"] = port
    if "maildir" in params and maildir is not None:
        kwargs["maildir"] = maildir
    try:
        if kwargs or not params:
            result = main(**kwargs)
        else:  # an argparse-style main(argv)
            argv = ["--port", str(port)] + (["--maildir", str(maildir)] if maildir else [])
            result = main(argv)
        if inspect.isawaitable(result):
            result = asyncio.run(_await(result))
    except KeyboardInterrupt:
        err.print("stopped")
        return
    if isinstance(result, int) and result:
        raise typer.Exit(result)


async def _await(awaitable: Any) -> Any:
    return await awaitable
