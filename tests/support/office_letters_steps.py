"""Steps a person takes on the workspace's letters and dead-letter pages, by HTTP as the
browser's forms do (with the page's own CSRF token): for the letters tests and for the whole
year-end test (release a held letter, withdraw one, re-drive dead letters)."""

from __future__ import annotations

import re

import httpx
from playwright.async_api import Page

from contracts.financial_year import FinancialYear
from tests.support.office import Office

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_IDS = re.compile(r'name="ids" value="([^"]*)"')


def csrf_of(page: str) -> str:
    found = _CSRF.search(page)
    assert found, "the page has no form with a CSRF token"
    return found[1]


def letter_page(client: httpx.Client, council: str, year: FinancialYear) -> httpx.Response:
    answer = client.get(f"/letters/{council}/{year.label}")
    assert answer.status_code == 200, answer.text[:500]
    return answer


def decide_letter(
    client: httpx.Client, decision: str, council: str, year: FinancialYear, reason: str
) -> httpx.Response:
    """Take ``decision`` (release, resend, withdraw, reissue) on the letter's page, as its
    form does; returns the answer (303 back to the letter when it was done)."""
    token = csrf_of(letter_page(client, council, year).text)
    return client.post(
        f"/letters/{council}/{year.label}/{decision}",
        data={"csrf_token": token, "reason": reason},
    )


def release_held_letter(
    client: httpx.Client, council: str, year: FinancialYear, reason: str
) -> str:
    """An approver releases a held letter; returns why it was held, as the page showed it
    before the release form."""
    page = letter_page(client, council, year).text
    held = re.search(r"It was held because: <strong>([^<]*)</strong>", page)
    assert held, "the letter page shows no release form with the reason it was held"
    answer = decide_letter(client, "release", council, year, reason)
    assert answer.status_code == 303, answer.text[:800]
    assert answer.headers["location"] == f"/letters/{council}/{year.label}?done=release"
    return held[1]


async def release_held_letter_in_browser(
    page: Page, office: Office, council: str, year: FinancialYear, reason: str
) -> str:
    """An approver, signed in on ``page``, opens the held letter, reads why it was held,
    gives ``reason`` and presses Release; returns why it was held, as the page said."""
    await page.goto(f"{office.base_url}/letters/{council}/{year.label}")
    held = await page.locator("form.decision:has(#r-release) p strong").inner_text()
    await page.fill("#r-release", reason)
    await page.click("button:has-text('Release this letter')")
    await page.wait_for_url(f"{office.base_url}/letters/{council}/{year.label}?done=release")
    return held


def withdraw_letter(client: httpx.Client, council: str, year: FinancialYear, reason: str) -> None:
    answer = decide_letter(client, "withdraw", council, year, reason)
    assert answer.status_code == 303, answer.text[:800]


def redrive_filtered(
    client: httpx.Client, note: str, *, council: str = "", reason: str = "", year: str = ""
) -> tuple[int, httpx.Response]:
    """A data officer re-drives the open dead letters a filter matches: the confirmation
    page (how many), then its form. Returns how many it said, and the answer."""
    params = {"council": council, "reason": reason, "year": year}
    confirm = client.get("/dead-letters-redrive", params=params)
    assert confirm.status_code == 200, confirm.text[:500]
    how_many = re.search(r'id="how-many"><strong>(\d+)</strong>', confirm.text)
    ids = _IDS.search(confirm.text)
    assert how_many and ids, "the confirmation shows no re-drive form"
    answer = client.post(
        "/dead-letters-redrive",
        data={**params, "csrf_token": csrf_of(confirm.text), "ids": ids[1], "note": note},
    )
    return int(how_many[1]), answer
