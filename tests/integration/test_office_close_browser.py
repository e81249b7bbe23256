"""The close with four eyes in a real browser (Debian's Chromium), signed in through the
real Keycloak: a data officer proposes the close with the page's own form, an approver
signs it off, the audit page lists both by name. axe-core finds no violation on the close
page (both roles, before and after) nor on the audit page; screenshots at desktop (1280 px)
and phone (390 px) widths in out/office/ (the desktop ones, looked at, are copied to
docs/office/ for docs/office.md: a test run changes no tracked file)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page

from tests.support import browser as b
from tests.support.casework import council, decided
from tests.support.office import Office, password
from tests.support.office_close_steps import (
    TERMS,
    CloseOffice,
    close_office,
    propose_in_browser,
    sign_off_in_browser,
)
from tests.support.polling import NotYet, eventually

pytestmark = pytest.mark.integration
__all__ = ["close_office"]
OUT = b.REPO / "out/office"


@pytest_asyncio.fixture(scope="module")
async def chromium(close_office: CloseOffice) -> AsyncIterator[Browser]:
    from playwright.async_api import async_playwright

    if (why := b.missing()) is not None:
        pytest.fail(why, pytrace=False)
    async with async_playwright() as p:
        browser = await b.launch(p)
        try:
            yield browser
        finally:
            await browser.close()


async def _sign_in(page: Page, office: Office, user: str, target: str) -> None:
    await page.goto(office.base_url + target)
    await page.wait_for_selector("#kc-form-login", timeout=30_000)
    await page.fill("#username", user)
    await page.fill("#password", password(user, office.stack.settings))
    await page.click("#kc-login")
    await page.wait_for_url(office.base_url + target, timeout=30_000)


async def _axe_clean(page: Page, what: str) -> None:
    result = await b.run_axe(page)
    assert result.violations == [], f"{what}: " + "\n".join(result.summary)


async def _shots(page: Page, name: str) -> None:
    await page.set_viewport_size({"width": 1280, "height": 900})
    await page.screenshot(path=str(OUT / f"{name}-desktop.png"), full_page=True)
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.screenshot(path=str(OUT / f"{name}-phone.png"), full_page=True)
    await page.set_viewport_size({"width": 1280, "height": 900})


async def test_a_data_officer_proposes_an_approver_signs_off_and_the_audit_lists_both(
    close_office: CloseOffice, chromium: Browser
) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    office = close_office.office
    await office.stack.publish(
        [council("MAN", "District"), decided("MAN", "19001", date(2019, 6, 1), "upheld", True)]
    )
    await office.stack.wait_caught_up()
    # axe-core is injected as a script: the CSP is bypassed for that (test_office_browser.py
    # checks the CSP blocks nothing).
    officer = await chromium.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    page = await officer.new_page()
    try:
        await _sign_in(page, office, "dataofficer", "/years/2019-20/close")
        await _axe_clean(page, "the close page before a proposal")
        await propose_in_browser(
            page, office, "2019-20", TERMS,
            title_2="Chair, Commission for Local Administration in England",
        )  # fmt: skip
        await _axe_clean(page, "the close page with a proposal (its proposer)")
        await _shots(page, "close-proposed")
    finally:
        await officer.close()

    approver = await chromium.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    page = await approver.new_page()
    try:
        await _sign_in(page, office, "approver", "/years/2019-20/close")
        assert await page.is_visible("button:has-text('Sign off and close 2019-20')")
        await _axe_clean(page, "the close page for an approver")
        await _shots(page, "close-approver")
        await sign_off_in_browser(page, office, "2019-20")
        await _axe_clean(page, "the close page after the sign-off")

        async def closed() -> bool:
            if not await office.stack.fetch("SELECT 1 FROM readmodel.year_closes"):
                raise NotYet("no close recorded")
            return True

        await eventually(closed, what="the close", timeout=60, explain=office.stack.service_tails)
        await page.goto(office.base_url + "/")
        assert await page.is_visible(
            "text=signed off by Amal Approver, proposed by Dev Data-Officer"
        )
        await _shots(page, "board-signed-off")
        await page.goto(office.base_url + "/audit")
        assert await page.is_visible("td:has-text('close proposed')")
        assert await page.is_visible("td:has-text('close signed off')")
        await _axe_clean(page, "the audit page")
        await _shots(page, "audit")
    finally:
        await approver.close()
