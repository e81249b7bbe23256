"""The office workspace in a real browser (Debian's Chromium, Playwright), signed in through
the real Keycloak as two different users: each sees the year board with their own role;
sign-out ends the session at the provider too (signing in again asks for the password);
axe-core finds no violation on the board and the sign-in pages; the CSP blocks nothing.
Screenshots of the board at desktop and phone widths are written to out/office/."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, async_playwright

from tests.support import browser as b
from tests.support.office import REALM_URL, Office, password

pytestmark = pytest.mark.integration
OUT = b.REPO / "out/office"


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


async def _sign_in_at_keycloak(page: Page, office: Office, user: str) -> None:
    await page.wait_for_selector("#kc-form-login", timeout=30_000)
    await page.fill("#username", user)
    await page.fill("#password", password(user, office.stack.settings))
    await page.click("#kc-login")
    await page.wait_for_url(office.base_url + "/", timeout=30_000)


async def _axe_clean(page: Page, what: str) -> None:
    result = await b.run_axe(page)
    assert result.violations == [], f"{what}: " + "\n".join(result.summary)


async def test_two_users_sign_in_see_their_role_and_sign_out_at_the_provider(
    office: Office, chromium: Browser
) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    # axe-core is injected as a script: the CSP is bypassed here (the next test keeps it).
    context = await chromium.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    page = await context.new_page()
    try:
        await page.goto(office.base_url + "/")
        assert page.url.startswith(f"{REALM_URL}/")
        await _sign_in_at_keycloak(page, office, "approver")
        assert (await page.text_content("#role")) == "approver"
        assert await page.is_visible("h1:has-text('Year board')")
        await _axe_clean(page, "the board (approver)")
        await page.screenshot(path=str(OUT / "board-desktop.png"), full_page=True)
        await page.set_viewport_size({"width": 375, "height": 812})
        await page.screenshot(path=str(OUT / "board-phone.png"), full_page=True)
        await page.set_viewport_size({"width": 1280, "height": 900})

        await page.click("button:has-text('Sign out')")
        await page.wait_for_url(office.base_url + "/signed-out", timeout=30_000)
        assert await page.is_visible("text=signed out of the workspace and of the office")
        await _axe_clean(page, "the signed-out page")

        # The provider's session ended too: signing in again asks for the password.
        await page.click("a:has-text('Sign in again')")
        await page.wait_for_selector("#kc-form-login", timeout=30_000)
        await _sign_in_at_keycloak(page, office, "viewer")
        assert (await page.text_content("#role")) == "viewer"
        assert not await page.is_visible("button:has-text('Mark the board seen')")
        await _axe_clean(page, "the board (viewer)")

        await page.goto(office.base_url + "/sign-in?next=//evil.example/")
        assert page.url.startswith(office.base_url)
        await _axe_clean(page, "the refused return address page")
    finally:
        await context.close()


async def test_the_content_security_policy_blocks_nothing_the_pages_need(
    office: Office, chromium: Browser
) -> None:
    context = await chromium.new_context()
    page = await context.new_page()
    blocked: list[str] = []
    page.on("console", lambda m: blocked.append(m.text) if "Content Security" in m.text else None)
    failed: list[str] = []
    page.on("requestfailed", lambda r: failed.append(r.url))
    try:
        await page.goto(office.base_url + "/")
        await _sign_in_at_keycloak(page, office, "author")
        assert (await page.text_content("#role")) == "author"
        await page.click("button:has-text('Mark the board seen')")
        await page.wait_for_selector("text=Last marked seen at")
        await page.click("button:has-text('Sign out')")
        await page.wait_for_url(office.base_url + "/signed-out", timeout=30_000)
        office_blocked = [m for m in blocked if office.base_url in m or "127.0.0.1:8090" in m]
        assert office_blocked == [] and not [u for u in failed if u.startswith(office.base_url)]
    finally:
        await context.close()
