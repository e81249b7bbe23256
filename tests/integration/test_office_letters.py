"""The workspace's letters and dead-letter pages on the real servers, signed in through the
real Keycloak: a data officer re-drives a fixed dead letter (it is counted), an approver
releases a held letter (the SMTP server gets it) and withdraws another (never sent), the
CLI withdraws one too; each decision is on the audit trail with its person. Every new
action is checked for every role on the server, and refused without the CSRF token."""

from __future__ import annotations

import asyncio
import html
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer, TopicPartition
from playwright.async_api import Browser, Page, async_playwright

from contracts.codec import decode
from contracts.events import OfficeActionTaken
from contracts.financial_year import FinancialYear
from contracts.topics import OFFICE_ACTIONS
from services.office.roles import PERMISSIONS, Action, Role
from services.platform.kafka.security import client_kwargs
from tests.support import browser as b
from tests.support.casework import corrected, council, decided
from tests.support.mail import Mail, letters_env
from tests.support.office import Office, password
from tests.support.office_letters_steps import (
    csrf_of,
    decide_letter,
    redrive_filtered,
    release_held_letter,
    withdraw_letter,
)
from tests.support.polling import NotYet, eventually
from tests.support.stack import REPO, Stack

pytestmark = pytest.mark.integration
YEAR = FinancialYear(2019)
D = date(2019, 6, 1)
# OL01 is clean; each of the others has a correction refused before its decision (a dead
# letter for the council-year), so the close holds their letters.
COUNCILS = ("OL01", "OL02", "OL03", "OL04")
SCRIPT = Path(sys.executable).with_name("annual-review")
CLI = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "services.cli.main"]
USER_OF = {
    Role.AUTHOR: "author", Role.APPROVER: "approver", Role.DATA_OFFICER: "dataofficer",
    Role.VIEWER: "viewer",
}  # fmt: skip


def cli(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [*CLI, *args], cwd=REPO, env={**os.environ, **stack.env}, capture_output=True,
        text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, f"annual-review {' '.join(args)}: {done.stderr}{done.stdout}"
    return done


def signed_in(office: Office, user: str) -> httpx.Client:
    client = office.client()
    answer = office.sign_in(client, user)
    assert answer.status_code == 303, answer.text[:500]
    return client


def name_of(client: httpx.Client) -> str:
    """The signed-in person's name, as the workspace shows it (and records it)."""
    found = re.search(r"Signed in as <strong>([^<]+)</strong>", client.get("/").text)
    assert found
    return html.unescape(found[1])


async def states(stack: Stack) -> dict[str, str]:
    rows = await stack.fetch("SELECT council, state FROM letters.outbox WHERE version = 1")
    return {r["council"]: r["state"] for r in rows}


async def until_states(stack: Stack, want: dict[str, str]) -> None:
    async def reached() -> bool:
        have = await states(stack)
        if have != want:
            raise NotYet(f"letters {have}, wanted {want}")
        return True

    await eventually(reached, what="the letters' states", timeout=180, explain=stack.service_tails)


async def audit_trail(stack: Stack) -> list[tuple[str, str, str | None, str | None]]:
    """(action, actor, via, council) of every action recorded, in order."""
    consumer = AIOKafkaConsumer(**client_kwargs(stack.settings), enable_auto_commit=False)
    await consumer.start()
    try:
        tp = TopicPartition(stack.settings.topic(OFFICE_ACTIONS), 0)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        end = (await consumer.end_offsets([tp]))[tp]
        out: list[tuple[str, str, str | None, str | None]] = []
        while await consumer.position(tp) < end:
            batch = await consumer.getmany(tp, timeout_ms=2000)
            for record in batch.get(tp, []):
                event = decode(record.value)
                assert isinstance(event.data, OfficeActionTaken)
                out.append(
                    (event.data.action.value, event.actor or "", event.data.via,
                     event.council)
                )  # fmt: skip
        return out
    finally:
        await consumer.stop()


OUT = REPO / "out/office"


@pytest_asyncio.fixture(scope="module")
async def chromium(office: Office) -> AsyncIterator[Browser]:
    if (why := b.missing()) is not None:
        pytest.fail(why, pytrace=False)
    async with async_playwright() as p:
        browser = await b.launch(p)
        try:
            yield browser
        finally:
            await browser.close()


async def look_at(office: Office, chromium: Browser, user: str, pages: dict[str, str]) -> None:
    """``user`` signs in in Chromium and opens each page (name -> path): axe-core finds no
    violation, no CSP report, and each is photographed at desktop (1280) and phone (390)
    width into out/office/<name>-desktop.png and -phone.png."""
    OUT.mkdir(parents=True, exist_ok=True)
    # axe-core is injected as a script: the CSP is bypassed for it (checked just after).
    context = await chromium.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    page: Page = await context.new_page()
    try:
        await page.goto(office.base_url + "/")
        await page.wait_for_selector("#kc-form-login", timeout=30_000)
        await page.fill("#username", user)
        await page.fill("#password", password(user, office.stack.settings))
        await page.click("#kc-login")
        await page.wait_for_url(office.base_url + "/", timeout=30_000)
        for name, path in pages.items():
            await page.set_viewport_size({"width": 1280, "height": 900})
            answer = await page.goto(office.base_url + path)
            assert answer is not None and answer.status == 200, (name, path)
            result = await b.run_axe(page)
            assert result.violations == [], f"{name}: " + "\n".join(result.summary)
            await page.screenshot(path=str(OUT / f"{name}-desktop.png"), full_page=True)
            await page.set_viewport_size({"width": 390, "height": 844})
            await page.screenshot(path=str(OUT / f"{name}-phone.png"), full_page=True)
    finally:
        await context.close()


async def csp_blocks_nothing(
    office: Office, chromium: Browser, user: str, paths: list[str]
) -> None:
    """Without bypassing the CSP: no page (nor a letter's own HTML) has anything blocked."""
    context = await chromium.new_context()
    page = await context.new_page()
    blocked: list[str] = []
    page.on("console", lambda m: blocked.append(m.text) if "Content Security" in m.text else None)
    try:
        await page.goto(office.base_url + "/")
        await page.wait_for_selector("#kc-form-login", timeout=30_000)
        await page.fill("#username", user)
        await page.fill("#password", password(user, office.stack.settings))
        await page.click("#kc-login")
        await page.wait_for_url(office.base_url + "/", timeout=30_000)
        for path in paths:
            answer = await page.goto(office.base_url + path)
            assert answer is not None and answer.status == 200, path
        assert blocked == []
    finally:
        await context.close()


async def test_a_year_of_held_letters_and_dead_letters_dealt_with_in_the_workspace(
    office: Office, mail: Mail, chromium: Browser
) -> None:
    stack = office.stack
    stack.start("services.projector")
    stack.start("services.letters", **letters_env(mail))
    await stack.publish([council(c, "District") for c in COUNCILS])
    await stack.publish([decided("OL01", "C1", D, "upheld")])
    await stack.publish([corrected(c, f"C{c}", D, "not_upheld") for c in COUNCILS[1:]])
    await stack.wait_caught_up()
    cli(stack, "close-year", YEAR.label, "--letter-date", "2020-07-22",
        "--publication-date", "2020-07-29", "--signatory-name", "Michael King",
        "--signatory-title", "Local Government and Social Care Ombudsman")  # fmt: skip
    await until_states(stack, {"OL01": "sent", "OL02": "held", "OL03": "held", "OL04": "held"})
    first_dead = (await stack.fetch("SELECT min(id) AS id FROM readmodel.dead_letters"))[0]["id"]
    await look_at(office, chromium, "dataofficer", {
        "dead-letters": "/dead-letters",
        "dead-letter": f"/dead-letters/{first_dead}",
        "redrive-confirm": "/dead-letters-redrive?council=OL02",
    })  # fmt: skip
    await look_at(office, chromium, "approver", {
        "letters": f"/letters?year={YEAR.label}",
        "letter-held": f"/letters/OL02/{YEAR.label}",
    })  # fmt: skip

    # The data officer: the dead letters listed with their reason; OL02's decision is
    # published (the fix), then its dead letter re-driven through the filtered form.
    officer = signed_in(office, "dataofficer")
    listed = officer.get("/dead-letters")
    assert listed.status_code == 200 and listed.text.count("<td>conflict</td>") == 3
    await stack.publish([decided("OL02", "COL02", D, "upheld")])
    await stack.wait_caught_up()
    how_many, answer = redrive_filtered(officer, "OL02's decision published", council="OL02")
    assert how_many == 1 and answer.status_code == 303, answer.text[:800]
    await stack.wait_caught_up()
    assert (await stack.stats())[("OL02", 2019)]["not_upheld"] == 1  # the figure counted
    (dead,) = await stack.fetch(
        "SELECT id, status, status_note FROM readmodel.dead_letters WHERE council = 'OL02'"
    )
    assert dead["status"] == "redriven" and "OL02's decision published" in dead["status_note"]
    shown = officer.get(f"/dead-letters/{dead['id']}")
    # The message itself, laid out as JSON and escaped (its quotes are entities).
    assert shown.status_code == 200 and "As JSON, laid out to read." in shown.text
    assert "&#34;DecisionCorrected&#34;" in shown.text

    # The approver: OL02's letter shows why it was held, then is released and sent.
    approver = signed_in(office, "approver")
    held_because = release_held_letter(approver, "OL02", YEAR, "its dead letter was re-driven")
    assert "dead letter" in held_because
    # OL03 must never go: withdrawn in the workspace; OL04 withdrawn with the CLI.
    withdraw_letter(approver, "OL03", YEAR, "the council did not exist in 2019-20")
    cli(stack, "letters", "withdraw", "OL04", YEAR.label, "--reason", "merged before the year")
    await until_states(
        stack, {"OL01": "sent", "OL02": "sent", "OL03": "withdrawn", "OL04": "withdrawn"}
    )
    await asyncio.sleep(2)  # a dispatcher pass more: still nothing for the withdrawn ones
    sent_to = mail.per_letter()
    assert sorted(sent_to.values()) == [1, 1], sent_to
    assert not [k for k in sent_to if "OL03" in k or "OL04" in k], sent_to
    assert await states(stack) == {
        "OL01": "sent", "OL02": "sent", "OL03": "withdrawn", "OL04": "withdrawn",
    }  # fmt: skip
    # Casework for a council not registered yet is listed as parked, with nothing to re-drive.
    await stack.publish([decided("OL09", "COL09", D, "upheld")])
    await stack.wait_caught_up()
    parked = officer.get("/dead-letters").text.split('id="parked"', 1)[1]
    assert "<strong>1</strong> parked event(s)" in parked and '<th scope="row">OL09</th>' in parked
    assert "Re-drive" not in parked
    page = approver.get(f"/letters/OL03/{YEAR.label}")
    assert "withdrawn" in page.text and "Release this letter" not in page.text
    listing = approver.get("/letters", params={"state": "withdrawn", "year": YEAR.label})
    assert listing.text.count('href="/letters/OL0') == 2
    pdf = approver.get(f"/letters/OL02/{YEAR.label}/v1.pdf")
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    assert pdf.headers["content-disposition"] == f'attachment; filename="{YEAR.label}-OL02-v1.pdf"'
    as_sent = approver.get(f"/letters/OL02/{YEAR.label}/v1.html")
    assert as_sent.headers["content-type"].startswith("text/html")
    assert "sandbox" in as_sent.headers["content-security-policy"]

    await look_at(office, chromium, "viewer", {
        "letter-sent": f"/letters/OL02/{YEAR.label}",
        "letters-withdrawn": f"/letters?state=withdrawn&year={YEAR.label}",
    })  # fmt: skip
    await csp_blocks_nothing(office, chromium, "dataofficer", [
        f"/letters?year={YEAR.label}", f"/letters/OL02/{YEAR.label}",
        f"/letters/OL02/{YEAR.label}/v1.html", f"/dead-letters/{first_dead}",
        "/dead-letters-redrive",
    ])  # fmt: skip

    trail = [t for t in await audit_trail(stack) if t[0] != "year_closed_alone"]
    officer_name, approver_name = name_of(officer), name_of(approver)
    assert [(a, who.split(":")[0], via, c) for a, who, via, c in trail] == [
        ("dead_letter_redriven", officer_name, "workspace", None),
        ("letter_released", approver_name, "workspace", "OL02"),
        ("letter_withdrawn", approver_name, "workspace", "OL03"),
        ("letter_withdrawn", "operator", "cli", "OL04"),
    ]


def _post_route(action: Action) -> str:
    return {
        Action.RELEASE_LETTER: f"/letters/OL01/{YEAR.label}/release",
        Action.RESEND_LETTER: f"/letters/OL01/{YEAR.label}/resend",
        Action.REISSUE_LETTER: f"/letters/OL01/{YEAR.label}/reissue",
        Action.WITHDRAW_LETTER: f"/letters/OL01/{YEAR.label}/withdraw",
        Action.REDRIVE_DEAD_LETTERS: "/dead-letters-redrive",
    }[action]


NEW_POSTS = [
    Action.RELEASE_LETTER, Action.RESEND_LETTER, Action.REISSUE_LETTER, Action.WITHDRAW_LETTER,
    Action.REDRIVE_DEAD_LETTERS,
]  # fmt: skip
NEW_READS = {
    Action.VIEW_LETTERS: ["/letters", f"/letters/OL01/{YEAR.label}"],
    Action.VIEW_DEAD_LETTERS: ["/dead-letters"],
}


@pytest.mark.parametrize("role", list(Role))
async def test_every_letters_action_is_allowed_or_refused_on_the_server_as_documented(
    office: Office, role: Role
) -> None:
    """With the form's token and no reason: an allowed role is asked for a reason (400),
    a refused one gets 403; either way nothing changes. The reads are every role's."""
    stack = office.stack
    before = await stack.fetch("SELECT id, state, version FROM letters.outbox ORDER BY id")
    client = signed_in(office, USER_OF[role])
    for paths in NEW_READS.values():
        for path in paths:
            assert client.get(path).status_code == 200, (role, path)
    token = csrf_of(client.get("/letters").text)
    for action in NEW_POSTS:
        answer = client.post(_post_route(action), data={"csrf_token": token})
        allowed = role in PERMISSIONS[action]
        expected: Any = {400, 409} if allowed else {403}
        assert answer.status_code in expected, (role, action, answer.status_code)
    assert await stack.fetch("SELECT id, state, version FROM letters.outbox ORDER BY id") == before


async def test_a_letters_decision_without_the_csrf_token_is_refused_and_changes_nothing(
    office: Office,
) -> None:
    stack = office.stack
    before = await stack.fetch("SELECT id, state, version FROM letters.outbox ORDER BY id")
    approver = signed_in(office, "approver")
    for action in NEW_POSTS:
        answer = approver.post(_post_route(action), data={"reason": "no token", "note": "x"})
        assert answer.status_code == 403, action
    wrong = decide_letter(approver, "reissue", "OL01", YEAR, "x")  # with the token: allowed
    assert wrong.status_code == 303
    after = await stack.fetch("SELECT id, state, version FROM letters.outbox ORDER BY id")
    assert len(after) == len(before) + 1  # only the re-issue with its token made a version
