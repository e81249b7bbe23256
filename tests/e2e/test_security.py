"""End to end, on the real servers: names are text in every letter format, and no password
reaches a log or the command's output (docs/security.md).

One year runs through the real services, each as its own principal, with a council and a
chief executive whose names are HTML and template code. The letter that arrives by email
shows them as text in its plain-text, HTML and PDF parts. Then every password of the local
principals (.local/secrets: known to this test, as to the services) is looked for in the
services' logs (at DEBUG), in the broker's and PostgreSQL's logs, and in the output of the
CLI, including runs that fail authentication.
"""

from __future__ import annotations

import asyncio
import mailbox
import os
import shutil
import socket
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from contracts.envelope import new_event
from contracts.events import CouncilRegistered
from contracts.values import ChiefExecutive
from services.letters.smtp_server import start as start_smtp
from services.platform.settings import Settings
from tests.support.casework import decided
from tests.support.narratives import register_test_narrative
from tests.support.stack import REPO, Stack

pytestmark = pytest.mark.timeout(400)

SCRIPT = Path(sys.executable).with_name("annual-review")
CLI = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "services.cli.main"]
HOSTILE = "<script>alert(1)</script> {{ 7*7 }} {% raw %}"
COUNCIL_NAME = f"{HOSTILE} & Sons Council"
CE_NAME = "Dr <b>Bold</b> {{ config }} O'Brien"
ESCAPED_COUNCIL_NAME = (
    "&lt;script&gt;alert(1)&lt;/script&gt; {{ 7*7 }} {% raw %} &amp; Sons Council"
)
ESCAPED_CE_NAME = "Dr &lt;b&gt;Bold&lt;/b&gt; {{ config }} O&#39;Brien"
WRONG = "wrong-password-4f1d2c"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli(stack: Stack, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        cwd=REPO,
        env={**os.environ, **stack.env, "COLUMNS": "200", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def secrets_of(settings: Settings) -> dict[str, str]:
    assert settings.secrets_dir is not None, "run the tests through `make test` (infra/ctl.sh)"
    found = {p.name: p.read_text().strip() for p in sorted(settings.secrets_dir.glob("*.password"))}
    assert {"kafka-admin.password", "kafka-projector.password", "pg-ar_letters.password"} <= set(
        found
    )
    assert all(len(v) >= 16 for v in found.values())
    return found


def server_logs() -> list[Path]:
    """The broker's and PostgreSQL's logs of this checkout's servers (`make up`)."""
    logs = sorted((REPO / ".local" / "kafka" / "logs").glob("*"))
    base = subprocess.run(
        [str(REPO / "infra" / "postgres" / "pg.sh"), "dir"], capture_output=True, text=True
    )
    if base.returncode == 0 and base.stdout.strip():
        logs += sorted(Path(base.stdout.strip().splitlines()[-1], "logs").glob("*"))
    return [p for p in logs if p.is_file()]


async def wait_sent(stack: Stack, n: int, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            rows = await stack.fetch(
                "SELECT count(*) AS n FROM letters.outbox WHERE state = 'sent'"
            )
            if rows[0]["n"] >= n:
                return
        except Exception:
            pass  # the outbox appears with the first close
        if time.monotonic() > deadline:
            logs = "\n".join(f"--- {s.log.name}\n{s.tail(20)}" for s in stack.services)
            raise TimeoutError(f"no letter sent\n{logs}")
        await asyncio.sleep(0.5)


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    if shutil.which("pdftotext") is None:
        pytest.fail("pdftotext (poppler-utils) is missing: `make setup` installs it")
    path = tmp_path / "letter.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True)
    return " ".join(out.stdout.split())


async def test_hostile_names_are_text_in_every_format_and_no_password_is_logged(
    stack: Stack, tmp_path: Path
) -> None:
    secrets = secrets_of(stack.settings)
    port = free_port()
    smtp, _ = start_smtp(tmp_path / "mail", port=port)
    debug = {"AR_LOG_LEVEL": "DEBUG", "AR_LOG_FORMAT": "json"}
    try:
        stack.start("services.projector", **debug)
        stack.start(
            "services.letters",
            **debug,
            AR_SMTP_PORT=str(port),
            AR_LETTERS_RENDER_WORKERS="1",
            AR_LETTERS_RECONCILE_MAILDIR=str(tmp_path / "mail"),
        )
        registered = CouncilRegistered(
            name=COUNCIL_NAME,
            comparison_group="District",
            population=100_000,
            population_year=2020,
            chief_executive=ChiefExecutive(
                name=CE_NAME,
                job_title="Chief <i>Executive</i>",
                salutation="Dear {{ salutation }}",
                email="ce@hostile.example.org",
            ),
        )
        published = datetime(2019, 4, 1, tzinfo=UTC)
        await stack.publish(
            [
                new_event(registered, council="HOS", producer="tests", occurred_at=published),
                decided("HOS", "HOS-1", date(2019, 9, 1), "upheld"),
                decided("HOS", "HOS-2", date(2021, 9, 1), "upheld"),
            ]
        )
        await register_test_narrative(stack.settings, 2022)  # the 2021-22 letters' words
        async with stack.publisher() as p:
            for year, letter_date in (("2019-20", "2020-07-22"), ("2021-22", "2022-07-20")):
                await p.close_year(
                    {
                        "financial_year": year,
                        "letter_date": letter_date,
                        "publication_date": letter_date,
                        "signatory": {"name": "Michael King", "titles": ["Ombudsman"]},
                    },
                    producer="tests",
                )
        await wait_sent(stack, 2)
    finally:
        smtp.stop()

    # --- the letters (the 2020 format, and the 2021+ one that names the chief executive) ---
    letters = {
        str(m["Subject"]): {
            p.get_content_type(): bytes(p.get_payload(decode=True))
            for p in m.walk()
            if not p.is_multipart()
        }
        for m in mailbox.Maildir(tmp_path / "mail", create=False)
    }
    assert set(letters) == {"Annual Review letter 2020", "Annual Review letter 2022"}
    for subject, parts in letters.items():
        text = parts["text/plain"].decode()
        html = parts["text/html"].decode()
        pdf = pdf_text(parts["application/pdf"], tmp_path)
        assert COUNCIL_NAME in text and COUNCIL_NAME in pdf, subject
        assert "Chief <i>Executive</i>" in text, subject
        assert "<script>" not in html and "<i>" not in html and "<b>" not in html, subject
        assert ESCAPED_COUNCIL_NAME in html, subject
        assert "Chief &lt;i&gt;Executive&lt;/i&gt;" in html, subject
        if subject.endswith("2022"):
            assert CE_NAME in text and CE_NAME in pdf
            assert ESCAPED_CE_NAME in html
    # The template code in the names was printed, never run ({{ 7*7 }} is not 49).
    assert all("{{ 7*7 }}" in p["text/plain"].decode() for p in letters.values())

    # --- no password anywhere ------------------------------------------------------------------
    outputs = {
        "config": cli(stack, "config"),
        "config --json": cli(stack, "config", "--json"),
        "status --json": cli(stack, "status", "--json"),
        "letters list --json": cli(stack, "letters", "list", "--json"),
        "status, wrong Kafka password": cli(
            stack, "status", AR_KAFKA_USERNAME="operator", AR_KAFKA_PASSWORD=WRONG
        ),
        "dlq list, wrong database password": cli(
            stack,
            "dlq",
            "list",
            AR_DATABASE_URL=stack.settings.database_url.replace(
                secrets["pg-annual_review.password"], WRONG
            ),
        ),
    }
    assert outputs["config --json"].returncode == 0, outputs["config --json"].stderr
    assert outputs["status --json"].returncode == 0, outputs["status --json"].stderr
    assert outputs["status, wrong Kafka password"].returncode != 0
    assert outputs["dlq list, wrong database password"].returncode != 0
    assert '"kafka_password": "***"' in outputs["config --json"].stdout

    for service in stack.services:
        service.stop()
    texts = {
        f"{s.log.name} (service log)": s.log.read_text(errors="replace") for s in stack.services
    }
    texts |= {f"`annual-review {k}`": v.stdout + v.stderr for k, v in outputs.items()}
    texts |= {str(p): p.read_text(errors="replace") for p in server_logs()}
    assert any("projector started" in t for t in texts.values()), "the services did not log"
    leaks = [
        f"{secret} in {where}"
        for where, content in texts.items()
        for secret, value in {**secrets, "the wrong password": WRONG}.items()
        if value in content
    ]
    assert not leaks, leaks
