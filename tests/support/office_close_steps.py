"""The steps of the close with four eyes, as a person takes them in the workspace, signed in
through the real Keycloak: by HTTP (propose, sign off, reject, withdraw) and in a browser
(propose and sign off with the close page's own forms). Shared by the integration tests and
the whole-year browser test."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import Page

from services.letters.smtp_server import start as start_smtp
from services.platform.settings import Settings
from tests.support.mail import Mail, free_port
from tests.support.office import OFFICE_PORT, Office, ensure_keycloak, start_office
from tests.support.stack import close_stack, open_stack

APPROVERS = ("approvers@lgo.example", "deputy@lgo.example")
TERMS = {
    "letter_date": "2020-07-22",
    "publication_date": "2020-07-29",
    "signatory_name": "Michael King",
    "signatory_title_1": "Local Government and Social Care Ombudsman",
}


def csrf_of(page: str) -> str:
    marker = 'name="csrf_token" value="'
    start = page.index(marker) + len(marker)
    return page[start : page.index('"', start)]


def signed_in(office: Office, user: str) -> httpx.Client:
    client = office.client()
    answer = office.sign_in(client, user)
    assert answer.status_code == 303, answer.text[:500]
    return client


def close_page(client: httpx.Client, year: str) -> httpx.Response:
    return client.get(f"/years/{year}/close")


_PENDING = re.compile(r'action="/years/[^/"]+/close/([0-9a-f-]{36})/(?:sign-off|withdraw|reject)"')


def pending_id(page: str) -> str | None:
    """The id of the proposal waiting on the close page (from its sign-off, reject or
    withdraw form), if the page offers one to this user."""
    found = _PENDING.search(page)
    return found[1] if found else None


def propose(client: httpx.Client, year: str, **terms: str) -> httpx.Response:
    token = csrf_of(close_page(client, year).text)
    return client.post(f"/years/{year}/close/propose", data={**TERMS, **terms, "csrf_token": token})


def sign_off(client: httpx.Client, year: str, proposal_id: str) -> httpx.Response:
    token = csrf_of(close_page(client, year).text)
    return client.post(f"/years/{year}/close/{proposal_id}/sign-off", data={"csrf_token": token})


def end_proposal(
    client: httpx.Client, year: str, proposal_id: str, how: str, reason: str
) -> httpx.Response:
    """``how``: reject or withdraw."""
    token = csrf_of(close_page(client, year).text)
    return client.post(
        f"/years/{year}/close/{proposal_id}/{how}", data={"csrf_token": token, "reason": reason}
    )


async def propose_in_browser(
    page: Page, office: Office, year: str, terms: dict[str, str], title_2: str = ""
) -> None:
    """On the signed-in ``page``: fill the close page's proposal form with ``terms`` (the
    keys of ``TERMS``) and press Propose; returns once the page says it waits for sign-off."""
    await page.goto(f"{office.base_url}/years/{year}/close")
    for field in ("letter_date", "publication_date", "signatory_name", "signatory_title_1"):
        await page.fill(f"#{field}", terms[field])
    if title_2:
        await page.fill("#signatory_title_2", title_2)
    await page.click("button:has-text('Propose the close')")
    await page.wait_for_selector("text=Waiting for sign-off")


async def sign_off_in_browser(page: Page, office: Office, year: str) -> None:
    """On the signed-in ``page`` (an approver who did not propose): press the sign-off
    button; returns once the page says the year is closed."""
    await page.goto(f"{office.base_url}/years/{year}/close")
    await page.click(f"button:has-text('Sign off and close {year}')")
    await page.wait_for_selector(f"text=Signed off: {year} is closed.")


@dataclass
class CloseOffice:
    office: Office
    mail: Mail


@pytest_asyncio.fixture(scope="module")
async def close_office(
    settings: Settings, kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[CloseOffice]:
    """A namespace with its projector, an SMTP sink for the approvers' e-mails, and the
    workspace (as principal ``office``) told the approvers' addresses."""
    ensure_keycloak()
    work: Path = tmp_path_factory.mktemp("office-close")
    stack = await open_stack(settings, work)
    port = free_port()
    controller, _ = start_smtp(work / "maildir", port=port)
    try:
        stack.start("services.projector")
        service = start_office(
            stack,
            OFFICE_PORT,
            AR_OFFICE_APPROVER_EMAILS='["' + '", "'.join(APPROVERS) + '"]',
            AR_SMTP_PORT=str(port),
        )
        yield CloseOffice(
            Office(stack, service, f"http://127.0.0.1:{OFFICE_PORT}"), Mail(work / "maildir", port)
        )
    finally:
        controller.stop()
        await close_stack(stack, settings)
