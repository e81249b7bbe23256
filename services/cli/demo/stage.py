"""The demo's stage: a namespace of its own (a fresh database and topic prefix, so the demo
can be run again and again), a local SMTP server, and the projector and letter services as
subprocesses, each as its own principal. All of it is stopped (and the namespace dropped,
unless kept) when the ``staged`` block ends, however it ends."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from services.platform.namespace import create_namespace, drop_namespace, service_env
from services.platform.settings import Principal, Settings

REPO = Path(__file__).resolve().parents[3]
# The services the demo runs, each as its own principal (docs/security.md).
SERVICES: tuple[tuple[str, Principal], ...] = (
    ("services.projector", "projector"),
    ("services.letters", "letters"),
)
STOP_WAIT_S = 30.0  # a service's time to finish its batch after SIGTERM


@dataclass
class Stage:
    name: str  # of the namespace: database and topic prefix
    ns: Settings  # the settings that use it
    logs: Path  # the services' logs
    maildir: Path  # what the SMTP server accepted
    env: dict[str, str]  # the environment the services run with
    processes: list[asyncio.subprocess.Process] = field(default_factory=list)
    # The Maildir is kept between runs (out/demo/mail): this run's emails are the new ones.
    emails_before: int = 0

    def emails(self) -> int:
        """The emails the SMTP server accepted during this run."""
        return count_emails(self.maildir) - self.emails_before

    def stopped(self) -> asyncio.subprocess.Process | None:
        """A service that has stopped by itself (the demo cannot go on without it)."""
        return next((p for p in self.processes if p.returncode is not None), None)


def count_emails(maildir: Path) -> int:
    return len(list((maildir / "new").glob("*")))


def namespace_name(now: datetime | None = None) -> str:
    return "demo_" + (now or datetime.now(UTC)).strftime("%Y%m%d_%H%M%S")


@asynccontextmanager
async def staged(base: Settings, out_dir: Path, *, keep: bool) -> AsyncIterator[Stage]:
    from services.letters.smtp_server import start as start_smtp  # imported only when run

    name = namespace_name()
    ns = await create_namespace(base, name)
    try:
        logs = out_dir / "logs"
        logs.mkdir(exist_ok=True)
        maildir = out_dir / "mail"
        env = {
            **os.environ,
            "AR_LETTERS_RECONCILE_MAILDIR": str(maildir),
            "AR_PROJECTOR_METRICS_PORT": "0",
            "AR_LETTERS_METRICS_PORT": "0",
            "AR_LOG_FORMAT": "json",  # the services' logs are files, read with tools
        }
        stage = Stage(name, ns, logs, maildir, env, emails_before=count_emails(maildir))
        smtp, _ = start_smtp(maildir, port=base.smtp_port)
        try:
            for module, principal in SERVICES:
                stage.processes.append(await start_service(stage, module, principal))
            yield stage
        finally:
            await stop(stage.processes)
            smtp.stop()
    finally:
        if not keep:
            await drop_namespace(base, ns)


async def start_service(
    stage: Stage, module: str, principal: Principal
) -> asyncio.subprocess.Process:
    with (stage.logs / f"{module.rsplit('.', 1)[-1]}.log").open("wb") as log:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            module,
            env={**stage.env, **service_env(stage.ns, principal)},
            cwd=REPO,
            # Ctrl-C reaches the demo only, which then stops the services itself.
            start_new_session=True,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


async def stop(processes: list[asyncio.subprocess.Process]) -> None:
    for p in processes:
        if p.returncode is None:
            p.terminate()
    for p in processes:
        try:
            await asyncio.wait_for(p.wait(), STOP_WAIT_S)
        except TimeoutError:
            p.kill()
