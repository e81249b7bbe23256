"""The author's narrative and proofs in a real browser (Debian's Chromium, Playwright), signed
in through the real Keycloak, with the workspace's CSP on: writes a narrative with a problem,
sees it with its line, fixes it, previews Mansfield's letter (MAS: the test's register has
"MAS Council", not the real register's name), registers it, makes the proofs and downloads
them (one PDF per council). Keyboard only: every control of the narrative page is reached with
Tab and shows its focus. axe-core: zero violations on every page on the way; screenshots at
1280 and 390 px wide in out/office/ (the desktop ones that docs/office.md shows are copied to
docs/office/ with AR_OFFICE_DOC_SCREENSHOTS=1)."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, async_playwright

from tests.support import browser as b
from tests.support import office_steps as steps
from tests.support.office import Office

pytestmark = pytest.mark.integration
OUT = b.REPO / "out/office"
DOCS = b.REPO / "docs/office"
COUNCILS = ("MAS", "FMA", "FMB")
LETTER_YEAR, YEAR = 2026, "2025-26"
WITH_A_PROBLEM = """I write with our annual summary of the complaints about {council_name} for
the year ending {year_end}.

# Complaint statistics

Our figures for {council} are below.
"""
FIXED = WITH_A_PROBLEM.replace("for {council} are", "for {council_name} are")


@pytest_asyncio.fixture(scope="module")
async def chromium(office: Office) -> AsyncIterator[Browser]:
    if (why := b.missing()) is not None:
        pytest.fail(why, pytrace=False)
    await steps.councils_with_casework(office, COUNCILS)
    async with async_playwright() as p:
        browser = await b.launch(p)
        try:
            yield browser
        finally:
            await browser.close()


async def look(page: Page, name: str, *, doc: bool = False) -> None:
    """axe-core finds nothing; a screenshot at desktop and phone width."""
    violations = await steps.axe_violations(page)
    assert violations == [], f"{name}: " + "\n".join(violations)
    OUT.mkdir(parents=True, exist_ok=True)
    desktop = OUT / f"{name}-desktop.png"
    await page.screenshot(path=str(desktop), full_page=True)
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.screenshot(path=str(OUT / f"{name}-phone.png"), full_page=True)
    await page.set_viewport_size({"width": 1280, "height": 900})
    if doc and os.environ.get("AR_OFFICE_DOC_SCREENSHOTS") == "1":
        DOCS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(desktop, DOCS / desktop.name)


async def test_the_author_writes_checks_previews_registers_and_proofs_the_narrative(
    office: Office, chromium: Browser, tmp_path: Path
) -> None:
    context = await chromium.new_context(
        viewport={"width": 1280, "height": 900}, accept_downloads=True
    )
    page = await context.new_page()
    blocked: list[str] = []
    page.on("console", lambda m: blocked.append(m.text) if "Content Security" in m.text else None)
    try:
        await steps.sign_in(page, office, "author", f"/narrative/{LETTER_YEAR}")
        await look(page, "narrative-empty")

        await steps.write_narrative(page, office, LETTER_YEAR, WITH_A_PROBLEM)
        problems = await steps.check_narrative(page)
        assert len(problems) == 1 and problems[0].startswith("Line 6: unknown placeholder"), (
            problems
        )
        assert "{council}" in problems[0]
        await look(page, "narrative-problem", doc=True)

        await page.fill("#markdown", FIXED)
        assert await steps.check_narrative(page) == []
        letter = await steps.preview_letter(page, "MAS")
        assert "complaints about MAS Council for the year ending 31 March 2026" in letter
        assert "Our figures for MAS Council are below." in letter
        await look(page, "narrative-preview", doc=True)
        # Keyboard only: every control is reached with Tab, each with a visible focus.
        stops = await b.tab_through(page)
        # Stops inside the preview's frame are the letter's own links: the page sees only the
        # frame; the focus ring there is the browser's, in the e-mail's own document.
        unmarked = [
            s for s in stops
            if s["visible"] and s["tag"] != "iframe" and not (s["outline"] or s["shadow"])
        ]  # fmt: skip
        assert unmarked == [], unmarked
        reached = {s["id"] for s in stops}
        assert {"markdown", "council", "check", "preview", "note", "register"} <= reached
        # The PDF proof of the preview (the link opens it in the browser's viewer).
        href = await page.get_attribute("#preview-pdf", "href")
        pdf = await page.request.get(office.base_url + str(href))
        assert pdf.ok and (await pdf.body()).startswith(b"%PDF")

        version = await steps.register_narrative(page, "for the Ombudsman's review")
        assert version == 1
        row = page.locator("#versions ~ div table tbody tr").first
        assert "Ada Author" in await row.inner_text()
        await look(page, "narrative-registered")

        # A second version, and the difference between the two.
        await page.fill("#markdown", FIXED + "\nThank you for your work this year.\n")
        assert await steps.register_narrative(page, "a closing line") == 2
        await page.click("#compare")
        await page.wait_for_selector("pre.diff")
        assert "+Thank you for your work this year." in await page.inner_text("pre.diff")
        await look(page, "narrative-diff", doc=True)

        job = await steps.make_proofs(page, office, YEAR)
        await look(page, "proofs-job", doc=True)
        archive = await steps.download_proofs(page, tmp_path)
        pdfs = steps.pdfs_in(archive)
        assert sorted(pdfs) == sorted(COUNCILS)
        assert all(pdf.startswith(b"%PDF") for pdf in pdfs.values())

        await page.goto(job + "/MAS")
        await page.wait_for_selector("figure.page img")
        await look(page, "proof-council", doc=True)
        await page.goto(f"{office.base_url}/proofs")
        await look(page, "proofs")

        office_blocked = [m for m in blocked if office.base_url in m]
        assert office_blocked == [], office_blocked
    finally:
        await context.close()


async def test_a_viewer_reads_the_narrative_and_proofs_but_is_offered_no_change(
    office: Office, chromium: Browser
) -> None:
    context = await chromium.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    try:
        await steps.sign_in(page, office, "viewer", f"/narrative/{LETTER_YEAR}")
        assert not await page.is_visible("#markdown")
        assert not await page.is_visible("#register")
        await look(page, "narrative-viewer")
        await page.goto(f"{office.base_url}/proofs/{YEAR}")
        assert not await page.is_visible("#make-proofs")
        await look(page, "proofs-year-viewer")
    finally:
        await context.close()
