"""`annual-review demo`, the README's first command, as a newcomer runs it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import asyncpg

from services.platform.settings import Settings
from tests.support.stack import REPO

SCRIPT = Path(sys.executable).with_name("annual-review")
CLI = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "services.cli.main"]
REFERENCE = REPO.parent / "shared" / "reference" / "annual-review-letter-2020.txt"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_the_demo_runs_a_year_end_to_end_and_leaves_nothing_behind(
    settings: Settings, kafka_bootstrap: str, tmp_path: Path
) -> None:
    out = tmp_path / "demo"
    done = subprocess.run(
        [
            *CLI,
            "demo",
            "--out-dir",
            str(out),
            "--events",
            "1500",
            "--web-port",
            str(free_port()),
        ],
        cwd=REPO,
        # Without a register (--register, AR_DEMO_REGISTER) the demo registers the sample.
        env={
            **{k: v for k, v in os.environ.items() if k != "AR_DEMO_REGISTER"},
            "AR_SMTP_PORT": str(free_port()),
            "COLUMNS": "200",
        },
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:] + done.stdout[-3000:]
    councils = 12  # the built-in sample
    assert f"letters sent: {councils} of {councils}" in done.stdout
    assert f"emails accepted by the SMTP server: {councils}" in done.stdout
    assert len(list((out / "letters").glob("*.pdf"))) == councils
    assert len(list((out / "mail" / "new").iterdir())) == councils
    # Without a terminal the demo fetches the Mansfield page from its web site and checks it.
    assert "web: fetched http://127.0.0.1:" in done.stdout
    assert "50% upheld, 100% compliance, 0% satisfactory remedies" in " ".join(done.stdout.split())
    mansfield = (out / "letters" / "2019-20-MAN-v1.txt").read_text()
    assert "Dear Ms Barsby" in mansfield
    if REFERENCE.exists():  # the statistics block, as in the real letter
        for line in (
            "50% of complaints we investigated were upheld.",
            "Statistics are based on a total of 2 detailed investigations for the "
            "period between 1 April 2019 to 31 March 2020",
        ):
            assert line in REFERENCE.read_text().replace("**", "") and line in mansfield
    conn = await asyncpg.connect(settings.database_url)
    try:
        left = await conn.fetch("SELECT datname FROM pg_database WHERE datname LIKE 'demo_%'")
    finally:
        await conn.close()
    assert left == []  # the demo's namespace was dropped
