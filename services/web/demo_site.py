"""The demo's last step: publish the year, start the site, and show (or check) Mansfield.

On a terminal the demo serves the site until Ctrl-C and prints the address of the Mansfield
page; without one (CI) it fetches that page over HTTP, checks the figures of the reference
letter (50% / 100% / 0%) and stops.
"""

from __future__ import annotations

import asyncio
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import asyncpg

from services.platform.namespace import service_env
from services.platform.settings import Settings, as_principal
from services.publication.job import publish_due

# The reference letter's three sentences (docs/domain.md §7), as the page prints them.
MANSFIELD_SENTENCES = (
    "50% of complaints we investigated were upheld.",
    "In 100% of cases we were satisfied the authority had successfully implemented our "
    "recommendations.",
    "In 0% of upheld cases we found the authority had provided a satisfactory remedy before "
    "the complaint reached the Ombudsman.",
)


def free_port(preferred: int) -> int:
    """``preferred`` when it is free on loopback, else one the system picks."""
    for port in (preferred, 0):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise OSError("no free port on 127.0.0.1")


async def publish(ns: Settings) -> list[str]:
    """Run the publication job once, as its own principal, on the database's clock."""
    conn = await asyncpg.connect(as_principal(ns, "publication").database_url)
    try:
        return [y.label for y in await publish_due(conn)]
    finally:
        await conn.close()


async def start_site(
    ns: Settings, env: dict[str, str], repo: Path, log: Path, port: int
) -> tuple[asyncio.subprocess.Process, str]:
    """The site as its own principal (role ar_web); returns it once /health/ready answers."""
    url = f"http://127.0.0.1:{port}"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.web",
        env={**env, **service_env(ns, "web"), "AR_WEB_PORT": str(port), "AR_WEB_BASE_URL": url},
        cwd=repo, start_new_session=True, stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while True:
        if proc.returncode is not None:
            raise RuntimeError(f"the web site stopped (exit {proc.returncode}); see {log}")
        if await asyncio.to_thread(_ready, url):
            return proc, url
        if time.monotonic() > deadline:
            raise TimeoutError(f"the web site did not answer within 60 s; see {log}")
        await asyncio.sleep(0.3)


def _ready(url: str) -> bool:
    if not url.startswith("http://127.0.0.1:"):
        raise ValueError(f"not the demo's own site: {url}")
    try:
        with urllib.request.urlopen(f"{url}/health/ready", timeout=2) as r:  # noqa: S310 - http on loopback
            return bool(r.status == 200)
    except (OSError, urllib.error.URLError):
        return False


def check_page(page_url: str) -> list[str]:
    """What is missing from the Mansfield page (empty: all three figures are there)."""
    if not page_url.startswith("http://127.0.0.1:"):
        raise ValueError(f"not the demo's own site: {page_url}")
    with urllib.request.urlopen(page_url, timeout=30) as r:  # noqa: S310 - checked above
        html = r.read().decode("utf-8")
    text = re.sub(r"</?strong>", "", html)
    return [s for s in MANSFIELD_SENTENCES if s not in text]
