"""A whole year end in the office workspace, by two people signed in through the real Keycloak
in Chromium (Debian's, Playwright), with the workspace's CSP on: the author writes the
narrative, sees a problem with its line, fixes it, previews Mansfield's letter and registers
it, makes the proofs and proposes the close; the approver signs it off; the letter service
sends one e-mail per letter to a real SMTP server; the approver releases the letter the close
held (its council-year had an open dead letter) and it is sent too; the audit page lists each
step with its person. axe-core finds no violation on any page of the way; screenshots of the
main moments at 1280 px in out/office/ (``AR_OFFICE_DOC_SCREENSHOTS=1`` copies them to
docs/office/ for docs/office.md's "The year end, step by step")."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from contracts.financial_year import FinancialYear
from services.letters.smtp_server import start as start_smtp
from services.platform.settings import Settings
from tests.support import browser as b
from tests.support import office_steps as steps
from tests.support.mail import Mail, free_port, letters_env
from tests.support.office import OFFICE_PORT, Office, ensure_keycloak, start_office
from tests.support.office_close_steps import TERMS, propose_in_browser, sign_off_in_browser
from tests.support.office_letters_steps import release_held_letter_in_browser
from tests.support.polling import NotYet, eventually
from tests.support.stack import close_stack, open_stack

YEAR = FinancialYear(2025)
LETTER_YEAR = YEAR.letter_year
# MAN is Mansfield; HLD's year has a correction of a decision never recorded (a dead letter
# still open at the close), so the close holds its letter.
NAMES = {"MAN": "Mansfield District Council"}
COUNCILS = ("MAN", "YEB", "YEC")
HELD = "HLD"
CLOSE_TERMS = {**TERMS, "letter_date": "2026-07-22", "publication_date": "2026-07-29"}
OUT = b.REPO / "out/office"
DOCS = b.REPO / "docs/office"
WITH_A_PROBLEM = """I write with our annual summary of the complaints about {council_name} for
the year ending {year_end}.

# Complaint statistics

Our figures for {council} are below.
"""
FIXED = WITH_A_PROBLEM.replace("for {council} are", "for {council_name} are")


@dataclass
class YearEnd:
    office: Office
    mail: Mail


@pytest_asyncio.fixture(scope="module")
async def year_end(
    settings: Settings, kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[YearEnd]:
    """A namespace with its projector and letter service, a real SMTP server, and the
    workspace (principal ``office``); the councils registered with their 2025-26 casework."""
    ensure_keycloak()
    work: Path = tmp_path_factory.mktemp("year-end")
    stack = await open_stack(settings, work)
    mail = Mail(work / "maildir", free_port())
    controller, _ = start_smtp(mail.path, port=mail.port)
    try:
        service = start_office(stack, OFFICE_PORT, AR_OFFICE_PROOFS_DIR=str(work / "proofs"))
        office = Office(stack, service, f"http://127.0.0.1:{OFFICE_PORT}")
        await steps.councils_with_casework(office, (*COUNCILS, HELD), NAMES)
        refused = steps.decided(HELD, "X1", date(2025, 7, 1), "upheld", correction=True)
        await stack.publish([refused])
        await stack.wait_caught_up()
        stack.start("services.letters", **letters_env(mail))
        yield YearEnd(office, mail)
    finally:
        controller.stop()
        await close_stack(stack, settings)


@pytest_asyncio.fixture(scope="module")
async def chromium(year_end: YearEnd) -> AsyncIterator[Browser]:
    if (why := b.missing()) is not None:
        pytest.fail(why, pytrace=False)
    async with async_playwright() as p:
        browser = await b.launch(p)
        try:
            yield browser
        finally:
            await browser.close()


async def look(page: Page, what: str, shot: str = "", *, doc: bool = False) -> None:
    """axe-core finds no violation on ``page``; with ``shot``, a desktop screenshot named so
    in out/office/ (with ``doc``, copied to docs/office/ when AR_OFFICE_DOC_SCREENSHOTS=1:
    the other moments are pages docs/office.md already shows)."""
    violations = await steps.axe_violations(page)
    assert violations == [], f"{what}: " + "\n".join(violations)
    if shot:
        OUT.mkdir(parents=True, exist_ok=True)
        path = OUT / f"{shot}.png"
        await page.screenshot(path=str(path), full_page=True)
        if doc and os.environ.get("AR_OFFICE_DOC_SCREENSHOTS") == "1":
            DOCS.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, DOCS / path.name)


async def person(chromium: Browser, year_end: YearEnd, user: str, path: str) -> Page:
    """A browser of its own for ``user``, signed in at Keycloak's form, on ``path``."""
    context: BrowserContext = await chromium.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    await steps.sign_in(page, year_end.office, user, path)
    return page


async def outbox(year_end: YearEnd) -> dict[str, str]:
    rows = await year_end.office.stack.fetch(
        "SELECT council, state FROM letters.outbox WHERE financial_year = $1", YEAR.start_year
    )
    return {r["council"]: r["state"] for r in rows}


async def until(year_end: YearEnd, want: dict[str, str], mailed: set[str]) -> None:
    """Until the outbox holds ``want`` and the SMTP server has one message per letter of
    ``mailed`` (and none for any other)."""

    async def reached() -> bool:
        have = await outbox(year_end)
        sent = year_end.mail.per_letter()
        if have != want or {k.split("/")[0] for k in sent} != mailed:
            raise NotYet(f"letters {have}, messages {dict(sent)}")
        assert sorted(sent.values()) == [1] * len(mailed), sent
        return True

    await eventually(
        reached, what="the letters", timeout=180, explain=year_end.office.stack.service_tails
    )


async def audit_rows(page: Page, office: Office) -> list[tuple[str, str]]:
    """(who, what) of each row of the audit page's table, oldest first."""
    await page.goto(f"{office.base_url}/audit")
    rows = []
    for row in await page.locator("table.audit-table tbody tr").all():
        cells = await row.locator("td").all_inner_texts()
        rows.append((cells[1].strip(), cells[3].strip()))
    return list(reversed(rows))


async def test_two_people_take_a_whole_year_end_in_the_workspace(
    year_end: YearEnd, chromium: Browser
) -> None:
    office = year_end.office
    # 1. The author: the board, then the narrative with a problem, fixed, previewed, registered.
    author = await person(chromium, year_end, "author", "/")
    await look(author, "the board before the year end", "year-end-board-before", doc=True)
    # The year to close is not on the board yet: it lists a year once something is done in it.
    assert await author.locator(f"#y{YEAR.start_year}").count() == 0
    # Each step's page is looked at (axe-core) as it opens, before the step's own actions.
    await steps.open_narrative(author, office, LETTER_YEAR)
    await look(author, "the narrative page")
    await steps.write_narrative(author, office, LETTER_YEAR, WITH_A_PROBLEM)
    problems = await steps.check_narrative(author)
    assert len(problems) == 1 and problems[0].startswith("Line 6: unknown placeholder"), problems
    await look(author, "the narrative with its problem", "year-end-narrative-problem")
    await author.fill("#markdown", FIXED)
    assert await steps.check_narrative(author) == []
    letter = await steps.preview_letter(author, "MAN")
    assert "complaints about Mansfield District Council for the year ending 31 March 2026" in letter
    assert "Our figures for Mansfield District Council are below." in letter
    await look(author, "the narrative's preview")
    assert await steps.register_narrative(author, "for the year end") == 1
    await look(author, "the registered narrative")

    # 2. The proofs, to the end of the job: one per council.
    await author.goto(f"{office.base_url}/proofs/{YEAR.label}")
    await look(author, "the year's proofs page")
    await steps.make_proofs(author, office, YEAR.label)
    progress = await author.inner_text("#progress-text")
    total = len(COUNCILS) + 1
    assert progress.startswith(f"{total} of {total} (100%): done"), progress
    await look(author, "the proofs job")

    # 3. The author proposes the close.
    await author.goto(f"{office.base_url}/years/{YEAR.label}/close")
    await look(author, "the close page before the proposal")
    await propose_in_browser(author, office, YEAR.label, CLOSE_TERMS)
    await look(author, "the close waiting for sign-off", "year-end-close-waiting")
    assert await outbox(year_end) == {}  # nothing sent before the sign-off

    # 4. The approver, another person, signs it off.
    approver = await person(chromium, year_end, "approver", f"/years/{YEAR.label}/close")
    await look(approver, "the close for the approver")
    await sign_off_in_browser(approver, office, YEAR.label)
    await look(approver, "the close signed off")

    # 5. The letters go: one message per letter, the held one excepted.
    sent = {c: "sent" for c in COUNCILS}
    await until(year_end, {**sent, HELD: "held"}, set(COUNCILS))
    await approver.goto(f"{office.base_url}/letters?year={YEAR.label}")
    await look(approver, "the letters list", "year-end-letters")

    # 6. The approver releases the held letter; it is sent too.
    await approver.goto(f"{office.base_url}/letters/{HELD}/{YEAR.label}")
    await look(approver, "the held letter", "year-end-letter-held")
    held_because = await release_held_letter_in_browser(
        approver, office, HELD, YEAR, "the council confirmed the figures stand"
    )
    assert "dead letter" in held_because, held_because
    await look(approver, "the released letter")
    await until(year_end, {**sent, HELD: "sent"}, {*COUNCILS, HELD})
    await approver.goto(office.base_url + "/")
    await look(approver, "the board after the year end", "year-end-board-after", doc=True)
    board = await approver.inner_text(f"article.year[aria-labelledby='y{YEAR.start_year}']")
    assert "signed off by Amal Approver, proposed by Ada Author" in board, board
    assert f"sent {len(COUNCILS) + 1}" in board and "snapshot is made" in board, board

    # 7. The audit page: each step with its person, in order.
    author_name = (await author.inner_text("header .who strong")).strip()
    approver_name = (await approver.inner_text("header .who strong")).strip()
    steps_taken = [
        (author_name, "narrative registered"),
        (author_name, "proofs made"),
        (author_name, "close proposed"),
        (approver_name, "close signed off"),
        (approver_name, "letter released"),
    ]
    rows = await audit_rows(author, office)
    # A row's "what" is the action, then what it was about (a version, a council...).
    pairs = zip(rows, steps_taken, strict=False)  # the lengths are compared just after
    seen = [(who, what[: len(want)]) for (who, what), (_, want) in pairs]
    assert seen == steps_taken and len(rows) == len(steps_taken), rows
    await look(author, "the audit page", "year-end-audit", doc=True)
    for page in (author, approver):
        await page.context.close()
