"""The office's year-end steps in a real browser (Playwright, Debian's Chromium), signed in
through the real Keycloak: each step is a function a test strings together (the narrative and
proofs test, and the whole year end). They act as a person does: fill the fields, press the
buttons, read what the page says."""

from __future__ import annotations

import re
import zipfile
from datetime import date
from pathlib import Path
from typing import Any

from playwright.async_api import Page

from contracts.envelope import Envelope, new_event
from contracts.events import DecisionCorrected, DecisionOutcome, DecisionRecorded
from tests.support.browser import AXE
from tests.support.casework import council
from tests.support.office import Office, password

TIMEOUT_MS = 60_000


def decided(
    code: str, case: str, day: date, outcome: str, *, correction: bool = False
) -> Envelope[DecisionRecorded | DecisionCorrected]:
    """A decision (or its correction) published now (tests.support.casework's are published
    in 2024, so they cannot be dated in a later year)."""
    kind = DecisionCorrected if correction else DecisionRecorded
    return new_event(
        kind(case_reference=case, decision_date=day, outcome=DecisionOutcome(outcome),
             satisfactory_remedy=False),
        council=code, producer="tests",
    )  # fmt: skip


async def councils_with_casework(
    office: Office, codes: tuple[str, ...], names: dict[str, str] | None = None
) -> None:
    """``codes`` registered as district councils (named ``names[code]``, else "CODE
    Council"), each with some 2025-26 decisions (the first one's upheld), projected by a
    projector of the office's stack."""
    office.stack.start("services.projector")
    named = names or {}
    events: list[Envelope[Any]] = [council(c, "District", name=named.get(c)) for c in codes]
    for n, code in enumerate(codes):
        outcome = "upheld" if n == 0 else "not_upheld"
        events += [decided(code, f"{code}-{i}", date(2025, 6, 1 + i), outcome) for i in range(3)]
    await office.stack.publish(events)
    await office.stack.wait_caught_up()


async def axe_violations(page: Page) -> list[str]:
    """axe-core's violations on ``page``, with every rule it ships. Evaluated through the
    browser's debugging protocol, which the page's CSP does not govern: the workspace's
    CSP stays on while it runs (tests.support.browser.run_axe adds a script tag instead)."""
    if not await page.evaluate("() => typeof axe !== 'undefined'"):
        await page.evaluate(AXE.read_text(encoding="utf-8"))
    raw = await page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".map(v => v.id + ' (' + v.impact + '): ' + v.help + ' - ' +"
        " v.nodes.slice(0, 5).map(n => n.target.join(' ')).join('; '))"
    )
    return list(raw)


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
