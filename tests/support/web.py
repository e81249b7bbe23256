"""A published site on the real servers, for the web tests: two closed years made by the
real pipeline (projector, letter service, SMTP), the publication job, and the web site as a
process running as its own principal (role ar_web).

The fixture ``web_site`` is session-wide (the pipeline takes a minute); tests that need a
year unpublished call ``unpublish`` first, and ``publish_all`` puts it back.
"""

from __future__ import annotations

import socket
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import pytest_asyncio

from contracts import CouncilRegistered, Envelope, new_event
from contracts.events import CouncilAbolished
from contracts.financial_year import FinancialYear
from contracts.groups import ComparisonGroup
from contracts.values import ChiefExecutive, CopyRecipient
from services.letters.smtp_server import start as start_smtp
from services.platform.settings import Settings, as_principal
from services.publication.clock import publishes_at
from services.publication.job import publish_due
from services.simulator.generator import simulate_year
from tests.support.casework import PUBLISHED, decided
from tests.support.mail import wait_states
from tests.support.narratives import register_test_narrative
from tests.support.polling import NotYet, eventually
from tests.support.stack import Service, Stack, close_stack, open_stack

Y2019, Y2020 = FinancialYear(2019), FinancialYear(2020)
CLOSES: dict[FinancialYear, dict[str, Any]] = {
    Y2019: {
        "financial_year": "2019-20",
        "letter_date": "2020-07-22",
        "publication_date": "2020-07-29",
        "signatory": {
            "name": "Michael King",
            "titles": [
                "Local Government and Social Care Ombudsman",
                "Chair, Commission for Local Administration in England",
            ],
        },
    },
    Y2020: {
        "financial_year": "2020-21",
        "letter_date": "2021-07-21",
        "publication_date": "2021-07-28",
        "signatory": {"name": "Michael King", "titles": ["Ombudsman"]},
    },
}
HELD = "ASH"  # Ashfield: its 2020-21 letter is held by a dead letter


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class WebSite:
    stack: Stack
    web: Service
    url: str
    owner: Settings  # the stack's settings, as the database owner

    def get(
        self, path: str, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        request = urllib.request.Request(self.url + path, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, dict(response.headers.items()), response.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers.items()), e.read()

    def text(self, path: str) -> tuple[int, str]:
        status, _, body = self.get(path)
        return status, body.decode("utf-8")

    async def connect(self, principal: str = "admin") -> asyncpg.Connection:
        settings = self.owner if principal == "admin" else as_principal(self.owner, principal)  # type: ignore[arg-type]
        return await asyncpg.connect(settings.database_url)

    async def publish(self, now: datetime) -> list[FinancialYear]:
        """The publication job, as its own principal, with its clock set to ``now``."""
        conn = await self.connect("publication")
        try:
            return await publish_due(conn, now)
        finally:
            await conn.close()

    async def publish_all(self) -> None:
        await self.publish(publishes_at(date.fromisoformat(CLOSES[Y2020]["publication_date"])))

    async def unpublish(self) -> None:
        """As the owner: forget every publication (tests of the embargo start from here)."""
        conn = await self.connect()
        try:
            async with conn.transaction():
                for table in (
                    "published_cases",
                    "published_councils",
                    "published_groups",
                    "published_years",
                ):
                    await conn.execute(f"DELETE FROM publication.{table}")
        finally:
            await conn.close()

    async def states(self) -> dict[str, int]:
        rows = await self.stack.fetch("SELECT state, count(*) AS n FROM letters.outbox GROUP BY 1")
        return {r["state"]: r["n"] for r in rows}

    async def wait_states(self, want: dict[str, int], timeout: float = 180.0) -> None:
        await wait_states(self.stack, want, timeout)


async def _pipeline(stack: Stack, maildir: Path, smtp_port: int) -> int:
    """Two years through the real services; returns the number of councils."""
    stack.start("services.projector")
    stack.start(
        "services.letters",
        AR_SMTP_PORT=str(smtp_port),
        AR_LETTERS_RECONCILE_MAILDIR=str(maildir),
        AR_LETTERS_RENDER_WORKERS="1",
        AR_LETTERS_CLOSE_MAX_AGE_DAYS="100000",  # the closes are of 2020 and 2021
    )
    first = [e for e in simulate_year(Y2019, events=900, seed=14, invalid_share=0.0)]
    second = [
        e
        for e in simulate_year(
            Y2020, events=700, seed=15, invalid_share=0.0, include_registrations=False
        )
    ]
    await stack.publish([e for e in first if not isinstance(e, dict)] + hostile())
    async with stack.publisher() as p:
        await p.close_year(CLOSES[Y2019], producer="tests")
    councils = await _wait_letters(stack, Y2019)
    await stack.publish([e for e in second if not isinstance(e, dict)])
    # A message naming Ashfield that cannot be read: its next letter is held.
    await stack.publish_raw([(HELD.encode(), b'{"type": "DecisionRecorded", "council": "ASH"}')])
    await register_test_narrative(stack.settings, Y2020.letter_year)  # the office's words
    async with stack.publisher() as p:
        await p.close_year(CLOSES[Y2020], producer="tests")
    await _wait_letters(stack, Y2020, held=1)
    # Corby's abolition, as the register states it: one successor with a page, one without.
    abolished = CouncilAbolished(last_day=date(2021, 3, 31), replaced_by=("KEN", "NNT"))
    await stack.publish([new_event(abolished, council="COR", producer="tests")])
    await stack.wait_caught_up()
    return councils


HOSTILE = "EVL"
HOSTILE_NAME = '<script>alert("x")</script> & <b>Evil</b> {{ 7*7 }} Council'
# Its chief executive and copy recipients: addresses that must never reach the web's role.
HOSTILE_ADDRESSES = ("chief@evil.example", "leader@evil.example", "scrutiny@evil.example")


def hostile() -> list[Envelope[Any]]:
    """A council whose name is markup, with an addressee and two copy recipients (each with
    an e-mail address), and two decisions in 2019-20."""
    registered = new_event(
        CouncilRegistered(
            name=HOSTILE_NAME, comparison_group=ComparisonGroup.DISTRICT, population=50_000,
            population_year=2019,
            chief_executive=ChiefExecutive(
                name="Eve Ill", job_title="Chief Executive", salutation="Ms Ill",
                email=HOSTILE_ADDRESSES[0],
            ),
            copy_to=(
                CopyRecipient(name="Lee Der", role="Leader", email=HOSTILE_ADDRESSES[1]),
                CopyRecipient(name="Scru Tiny", role="Chair", email=HOSTILE_ADDRESSES[2]),
            ),
        ),
        council=HOSTILE, producer="tests", occurred_at=PUBLISHED,
    )  # fmt: skip
    day = date(2019, 10, 1)
    return [
        registered,
        decided(HOSTILE, "EVL-1", day, "upheld"),
        decided(HOSTILE, "EVL-2", day, "not_upheld"),
    ]


async def _wait_letters(stack: Stack, year: FinancialYear, held: int = 0) -> int:
    async def settled() -> int:
        rows = await stack.fetch(
            "SELECT (SELECT count(*) FROM readmodel.year_snapshot_councils "
            "WHERE financial_year = $1) AS expected, "
            "count(*) FILTER (WHERE state = 'sent') AS sent, "
            "count(*) FILTER (WHERE state = 'held') AS held "
            "FROM letters.outbox WHERE financial_year = $1",
            year.start_year,
        )
        expected, sent, on_hold = rows[0]["expected"], rows[0]["sent"], rows[0]["held"]
        if not (expected and sent + on_hold == expected and on_hold == held):
            raise NotYet(f"{year}: {sent} sent, {on_hold} held of {expected}")
        return int(expected)

    return int(
        await eventually(
            settled,
            what=f"the {year} letters sent or held",
            timeout=240,
            every=0.3,
            # the projector has not created the tables yet
            not_yet=(asyncpg.UndefinedTableError,),
            explain=stack.service_tails,
        )
    )


def start_web(stack: Stack, port: int, **env: str) -> Service:
    web = stack.start(
        "services.web",
        AR_WEB_PORT=str(port),
        AR_WEB_BASE_URL=f"http://127.0.0.1:{port}",
        AR_WEB_REFRESH_S="0",
        **env,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready", timeout=2) as r:
                if r.status == 200:
                    return web
        except (OSError, urllib.error.URLError):
            pass
        if not web.alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the web site did not start:\n{web.tail()}")
        time.sleep(0.2)


@pytest_asyncio.fixture(scope="session")
async def web_site(
    settings: Settings, kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[WebSite]:
    workdir = tmp_path_factory.mktemp("web")
    stack = await open_stack(settings, workdir)
    smtp_port = free_port()
    smtp, _ = start_smtp(workdir / "mail", port=smtp_port)
    try:
        await _pipeline(stack, workdir / "mail", smtp_port)
        port = free_port()
        web = start_web(stack, port)
        yield WebSite(stack, web, f"http://127.0.0.1:{port}", stack.settings)
    finally:
        smtp.stop()
        await close_stack(stack, settings)
