"""``annual-review demo``: one financial year, end to end, on the real servers.

Runs in a namespace of its own (a fresh database and topic prefix), so it can be run again
and again: registers the councils, publishes a simulated 2019-20 with Mansfield's real
figures, closes the year, waits for the letters to be rendered and emailed to a local SMTP
server, writes them out, and prints a summary. Everything it started is stopped at the end.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from contracts.financial_year import FinancialYear
from services.cli.common import ExitCode, err, fail, out, run, settings
from services.councils.importer import read_councils
from services.councils.model import CouncilRecord
from services.councils.sample import MANSFIELD_CODE, load_sample
from services.domain.letter_lifecycle import LetterState
from services.letters import operations, outbox
from services.platform.kafka.publisher import event_publisher
from services.platform.namespace import create_namespace, drop_namespace, service_env
from services.platform.settings import Principal, Settings, as_principal
from services.projector.config import get_projector_settings
from services.readmodel.council_figures import council_figures
from services.readmodel.letter_reads import snapshot_size
from services.simulator.generator import simulate_year
from services.simulator.mansfield import find_mansfield

YEAR = FinancialYear(2019)
# The services the demo runs, each as its own principal.
SERVICES: tuple[tuple[str, Principal], ...] = (
    ("services.projector", "projector"),
    ("services.letters", "letters"),
)
REPO = Path(__file__).resolve().parents[2]
REGISTER = REPO.parent / "shared" / "data" / "uk_local_authorities.csv"
CLOSE = {
    "financial_year": YEAR.label,
    "letter_date": "2020-07-22",
    "publication_date": "2020-07-29",
    "signatory": {
        "name": "Michael King",
        "titles": [
            "Local Government and Social Care Ombudsman",
            "Chair, Commission for Local Administration in England",
        ],
    },
}


def councils(register: Path | None) -> tuple[list[CouncilRecord], str]:
    """The mySociety register's councils of 2019-20 when it is there, else the sample;
    Mansfield addressed to its real chief executive either way."""
    sample = load_sample()
    if register is None or not register.is_file():
        return sample, "the built-in sample"
    found = read_councils(register, year=YEAR).councils
    real = next(c for c in sample if c.code == MANSFIELD_CODE)
    mansfield = find_mansfield(found)
    if mansfield is not None:
        details = mansfield.details.model_copy(
            update={"chief_executive": real.details.chief_executive}
        )
        found = [replace(c, details=details) if c is mansfield else c for c in found]
    return found, f"the mySociety register ({register})"


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
            help="mySociety register CSV (default: ../shared/data, if present).",
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
    out_dir.mkdir(parents=True, exist_ok=True)
    if serve is None:
        serve = sys.stdin.isatty() and sys.stdout.isatty()
    web = (serve, web_port)
    try:
        summary = run(_demo(base, out_dir, events, seed, register or REGISTER, keep, timeout, web))
    except TimeoutError as e:
        fail(str(e), hint=f"see the service logs in {out_dir / 'logs'}", code=ExitCode.PARTIAL)
    except OSError as e:
        fail(
            f"cannot reach the servers ({e})", hint="run `make up` first", code=ExitCode.UNAVAILABLE
        )
    _print(summary, out_dir)


async def _demo(
    base: Settings,
    out_dir: Path,
    n_events: int,
    seed: int,
    register: Path,
    keep: bool,
    wait_s: float,
    web: tuple[bool, int] = (False, 8080),
) -> dict[str, Any]:
    from services.letters.smtp_server import start as start_smtp  # imported only when run

    started = time.monotonic()
    name = "demo_" + datetime.now(UTC).strftime("%Y%m%d_%H%M%S")
    ns = await create_namespace(base, name)
    logs = out_dir / "logs"
    logs.mkdir(exist_ok=True)
    maildir = out_dir / "mail"
    smtp, _ = start_smtp(maildir, port=base.smtp_port)
    env = {
        **os.environ,
        "AR_LETTERS_RECONCILE_MAILDIR": str(maildir),
        "AR_PROJECTOR_METRICS_PORT": "0",
        "AR_LETTERS_METRICS_PORT": "0",
        "AR_LOG_FORMAT": "json",
    }
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            module,
            # Each service as its own principal (docs/security.md).
            env={**env, **service_env(ns, principal)},
            cwd=REPO,
            start_new_session=True,
            stdout=(logs / f"{module.rsplit('.', 1)[-1]}.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        for module, principal in SERVICES
    ]
    try:
        chosen, source = councils(register)
        err.print(f"councils: {len(chosen)} from {source}")
        stream = simulate_year(YEAR, councils=chosen, events=n_events, seed=seed, invalid_share=0.0)
        valid = [e for e in stream if not isinstance(e, dict)]
        async with event_publisher(as_principal(ns, "operator")) as publisher:
            await publisher.publish_many(valid)
            err.print(f"published {len(valid):,} events; closing {YEAR}")
            await publisher.close_year(CLOSE, producer="annual-review-demo")
        sent = await _wait_for_letters(ns, procs, wait_s)
        conn = await _connect(ns)
        try:
            files = await operations.export(conn, out_dir / "letters", year=YEAR)
            mansfield = find_mansfield(chosen)
            figures = (
                await council_figures(
                    conn, mansfield.code, YEAR, get_projector_settings().averaging_rule
                )
                if mansfield
                else None
            )
            letters = await operations.list_letters(conn, year=YEAR)
        finally:
            await conn.close()
        site = await _site(ns, env, logs, procs, web, mansfield.code if mansfield else None)
        return {
            "namespace": name,
            "kept": keep,
            "councils": len(chosen),
            "source": source,
            "events": len(valid),
            "letters_sent": sent,
            "letters": len(letters),
            "emails_in_maildir": len(list((maildir / "new").glob("*"))),
            "files": len(files),
            "mansfield": figures.as_dict() if figures else None,
            "mansfield_code": mansfield.code if mansfield else None,
            "seconds": time.monotonic() - started,
            "site": site,
        }
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                await asyncio.wait_for(p.wait(), 30)
            except TimeoutError:
                p.kill()
        smtp.stop()
        if not keep:
            await drop_namespace(base, ns)


async def _site(
    ns: Settings,
    env: dict[str, str],
    logs: Path,
    procs: list[asyncio.subprocess.Process],
    web: tuple[bool, int],
    mansfield: str | None,
) -> dict[str, Any]:
    """Publish the year, start the site; serve it until Ctrl-C, or check Mansfield once."""
    from services.web import showcase  # imported only when run

    serve, preferred = web
    published = await showcase.publish(ns)
    err.print(f"published on the web: {', '.join(published) or 'nothing due'}")
    proc, url = await showcase.start_site(
        ns, env, REPO, logs / "web.log", showcase.free_port(preferred)
    )
    procs.append(proc)
    page = f"{url}/councils/{mansfield}" if mansfield else url
    if serve:
        out.print(f"\n[bold]Your council's performance[/] is at {url}/")
        out.print(f"Mansfield District Council, {YEAR}: {page}#y{YEAR.label}")
        out.print("serving until Ctrl-C ...")
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:  # Ctrl-C: end normally, so everything is stopped
            err.print("stopping the site")
        return {"url": url, "page": page, "missing": None}
    missing = await asyncio.to_thread(showcase.check_page, page) if mansfield else ["Mansfield"]
    return {"url": url, "page": page, "missing": missing}


async def _connect(ns: Settings) -> Any:
    import asyncpg

    return await asyncpg.connect(ns.database_url)


async def _wait_for_letters(
    ns: Settings, procs: list[asyncio.subprocess.Process], wait_s: float
) -> int:
    deadline = time.monotonic() + wait_s
    conn = None
    last = -1
    try:
        while True:
            for p in procs:
                if p.returncode is not None:
                    raise TimeoutError(
                        f"a service stopped (exit {p.returncode}) before the letters were sent"
                    )
            if conn is None:
                try:
                    conn = await _connect(ns)
                except OSError:
                    conn = None
            if conn is not None:
                try:
                    expected = await snapshot_size(conn, YEAR)
                    sent = await outbox.count_in(conn, LetterState.SENT)
                except Exception:
                    expected, sent = 0, 0
                if sent != last:
                    err.print(f"letters sent: {sent}/{expected or '?'}")
                    last = sent
                if expected and sent >= expected:
                    return int(sent)
            if time.monotonic() > deadline:
                raise TimeoutError(f"the letters were not all sent within {wait_s:.0f} s")
            await asyncio.sleep(1.0)
    finally:
        if conn is not None:
            await conn.close()


def _print(s: dict[str, Any], out_dir: Path) -> None:
    out.print(f"\n[bold green]Annual Review {YEAR}: done in {s['seconds']:.0f} s[/]")
    out.print(f"councils: {s['councils']} ({s['source']}); casework events: {s['events']:,}")
    out.print(
        f"letters sent: {s['letters_sent']} of {s['letters']}; "
        f"emails accepted by the SMTP server: {s['emails_in_maildir']}"
    )
    out.print(
        f"letters written to {out_dir / 'letters'} ({s['files']} files: .txt, .html, .pdf); "
        f"emails in {out_dir / 'mail'}"
    )
    m = s["mansfield"]
    if m:
        t = Table(
            "statistic",
            "Mansfield",
            "District Councils average",
            "based on",
            title=f"Mansfield District Council ({s['mansfield_code']}), {YEAR}",
        )
        c, g = m["counts"], m["group_average"]
        t.add_row(
            "complaints upheld",
            f"{m['uphold_rate_percent']}%",
            f"{g['uphold_rate_percent']}%",
            f"{c['upheld']} upheld of {m['detailed_investigations']} detailed investigations",
        )
        t.add_row(
            "compliance",
            f"{m['compliance_rate_percent']}%",
            f"{g['compliance_rate_percent']}%",
            f"{c['compliance_outcomes']} outcome(s)",
        )
        t.add_row(
            "satisfactory remedies",
            f"{m['satisfactory_remedy_rate_percent']}%",
            f"{g['satisfactory_remedy_rate_percent']}%",
            f"{c['satisfactory_remedies']} of {c['upheld']} upheld",
        )
        out.print(t)
        out.print(f"the letter: {out_dir / 'letters'}/{YEAR}-{s['mansfield_code']}-v1.pdf")
    site = s.get("site")
    if site and site["missing"] is not None:
        if site["missing"]:
            fail(
                f"the Mansfield page {site['page']} lacks: " + " / ".join(site["missing"]),
                hint=f"see {out_dir / 'logs' / 'web.log'}",
                code=ExitCode.PARTIAL,
            )
        out.print(
            f"web: fetched {site['page']}: 50% upheld, 100% compliance, 0% satisfactory "
            "remedies, as in the letter"
        )
    if s["kept"]:
        out.print(f"kept: database and topic prefix '{s['namespace']}'")
