"""The office's year-end steps in a real browser (Playwright, Debian's Chromium), signed in
through the real Keycloak: each step is a function a test strings together (the narrative and
proofs test, and the whole year end). They act as a person does: fill the fields, press the
buttons, read what the page says."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from playwright.async_api import Page

from tests.support.office import Office, password

TIMEOUT_MS = 60_000


async def sign_in(page: Page, office: Office, user: str, path: str = "/") -> None:
    """Open ``path`` and sign in as ``user`` at Keycloak's own form (if asked to)."""
    await page.goto(office.base_url + path)
    if page.url.startswith(office.base_url):
        return  # a session is already open
    await page.wait_for_selector("#kc-form-login", timeout=TIMEOUT_MS)
    await page.fill("#username", user)
    await page.fill("#password", password(user, office.stack.settings))
    await page.click("#kc-login")
    await page.wait_for_url(office.base_url + path, timeout=TIMEOUT_MS)


async def open_narrative(page: Page, office: Office, letter_year: int) -> None:
    await page.goto(f"{office.base_url}/narrative/{letter_year}")
    await page.wait_for_selector("h1", timeout=TIMEOUT_MS)


async def write_narrative(page: Page, office: Office, letter_year: int, markdown: str) -> None:
    """Replace the draft of the ``letter_year`` narrative with ``markdown`` (not sent yet)."""
    await open_narrative(page, office, letter_year)
    await page.fill("#markdown", markdown)


async def check_narrative(page: Page) -> list[str]:
    """Press Check; the problems listed (``Line N: ...``), empty when there are none."""
    await page.click("#check")
    await page.wait_for_selector("#check-result", timeout=TIMEOUT_MS)
    return [t.strip() for t in await page.locator(".problems li").all_inner_texts()]


async def preview_letter(page: Page, council: str) -> str:
    """Choose ``council`` and press Preview; the letter's text as the frame shows it."""
    await page.select_option("#council", council)
    await page.click("#preview")
    await page.wait_for_selector("iframe.letter", timeout=TIMEOUT_MS)
    frame = page.frame_locator("iframe.letter")
    await frame.locator("body").wait_for(timeout=TIMEOUT_MS)
    return await frame.locator("body").inner_text(timeout=TIMEOUT_MS)


async def register_narrative(page: Page, note: str) -> int:
    """Register the draft with ``note``; the version number the page reports."""
    await page.fill("#note", note)
    await page.click("#register")
    await page.wait_for_selector("#registered", timeout=TIMEOUT_MS)
    text = await page.text_content("#registered") or ""
    found = re.search(r"version (\d+)", text)
    assert found, text
    return int(found[1])


async def make_proofs(page: Page, office: Office, year_label: str) -> str:
    """Make the year's proofs and wait for the job to finish; the job page's address."""
    await page.goto(f"{office.base_url}/proofs/{year_label}")
    await page.click("#make-proofs")
    await page.wait_for_selector("#progress", timeout=TIMEOUT_MS)
    job_url = page.url
    # The page's own script reloads it when the job ends; the ZIP link appears then.
    await page.wait_for_selector("#zip", timeout=10 * TIMEOUT_MS)
    return job_url


async def download_proofs(page: Page, folder: Path) -> Path:
    """Download the job's ZIP (on its page) into ``folder``."""
    async with page.expect_download(timeout=TIMEOUT_MS) as info:
        await page.click("#zip")
    download = await info.value
    path = folder / download.suggested_filename
    await download.save_as(path)
    return path


def pdfs_in(zip_path: Path) -> dict[str, bytes]:
    """The PDFs in a proofs ZIP, by council code."""
    with zipfile.ZipFile(zip_path) as z:
        return {Path(n).stem: z.read(n) for n in z.namelist() if n.endswith(".pdf")}
