"""The narrative and proofs pages on the real servers, signed in through the real Keycloak by
HTTP: every new action for every role on the server (allowed or 403), CSRF refused without
the token, a check that lists each problem with its line, a registration published in the
person's name with its action on the audit trail, the difference view escaped, a proofs job
whose ZIP holds one PDF per council, addresses outside the proofs folder refused, and the
CLI's `letters narrative set` registering through the same use case, recorded as the operator."""

from __future__ import annotations

import io
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from contracts.codec import decode
from contracts.envelope import Envelope
from contracts.events import (
    NarrativeRegistered,
    OfficeAction,
    OfficeActionTaken,
)
from contracts.topics import NARRATIVES, OFFICE_ACTIONS
from services.office.roles import PERMISSIONS, Action, Role
from services.platform.kafka.topic_reader import read_whole_topic
from tests.e2e.test_operator_flow import cli
from tests.support.office import Office
from tests.support.office_steps import councils_with_casework
from tests.support.polling import eventually

pytestmark = pytest.mark.integration
LETTER_YEAR = 2026  # the letters of 2025-26
YEAR = "2025-26"
COUNCILS = ("MAS", "FMA", "FMB")
USERS = {Role.AUTHOR: "author", Role.APPROVER: "approver", Role.DATA_OFFICER: "dataofficer",
         Role.VIEWER: "viewer"}  # fmt: skip
GOOD = "Dear colleague, the figures of {council_name} for {financial_year} follow.\n"
BAD = "A first line.\n\nA second, with {council} in it.\n\n![a chart](https://x.example/c.png)\n"


@pytest_asyncio.fixture(scope="module")
async def year(office: Office) -> AsyncIterator[Office]:
    """Three councils registered, with some 2025-26 decisions, projected."""
    await councils_with_casework(office, COUNCILS)
    yield office


async def actions_taken(office: Office) -> list[Envelope[OfficeActionTaken]]:
    """Every action on the namespace's audit trail."""
    found = [decode(r.value) for r in await read_whole_topic(office.stack.settings, OFFICE_ACTIONS)]
    return [e for e in found if isinstance(e.data, OfficeActionTaken)]  # type: ignore[misc]


def signed_in(office: Office, user: str) -> httpx.Client:
    client = office.client()
    answer = office.sign_in(client, user)
    assert answer.status_code == 303, answer.text[:500]
    return client


def csrf_of(page: str) -> str:
    marker = 'name="csrf_token" value="'
    start = page.index(marker) + len(marker)
    return page[start : page.index('"', start)]


@pytest.fixture(scope="module")
def clients(year: Office) -> dict[Role, httpx.Client]:
    return {role: signed_in(year, user) for role, user in USERS.items()}


# Each new action, by one of its routes: (method, path, form fields).
ROUTES = {
    Action.VIEW_NARRATIVE: ("GET", f"/narrative/{LETTER_YEAR}", {}),
    Action.EDIT_NARRATIVE: (
        "POST", f"/narrative/{LETTER_YEAR}/draft", {"markdown": GOOD, "do": "check"}
    ),
    Action.REGISTER_NARRATIVE: (
        "POST", f"/narrative/{LETTER_YEAR}/register", {"markdown": GOOD, "note": "matrix"}
    ),
    Action.VIEW_PROOFS: ("GET", f"/proofs/{YEAR}", {}),
    Action.MAKE_PROOFS: ("POST", f"/proofs/{YEAR}", {}),
}  # fmt: skip


def test_the_matrix_covers_every_narrative_and_proofs_action() -> None:
    new = {a for a in Action if a.value.endswith(("narrative", "proofs"))}
    assert new == set(ROUTES)


@pytest.mark.parametrize("role", list(USERS))
@pytest.mark.parametrize("action", list(ROUTES))
def test_each_role_is_allowed_or_refused_each_action_on_the_server(
    clients: dict[Role, httpx.Client], role: Role, action: Action
) -> None:
    method, path, form = ROUTES[action]
    client = clients[role]
    if method == "GET":
        answer = client.get(path)
    else:
        token = csrf_of(client.get("/").text)
        answer = client.post(path, data={**form, "csrf_token": token})
    if role in PERMISSIONS[action]:
        assert answer.status_code in (200, 303), (role, action, answer.text[:400])
    else:
        assert answer.status_code == 403, (role, action, answer.status_code)
        assert "does not allow this" in answer.text


@pytest.mark.parametrize("action", [a for a in ROUTES if ROUTES[a][0] == "POST"])
def test_every_narrative_and_proofs_form_is_refused_without_its_csrf_token(
    clients: dict[Role, httpx.Client], action: Action
) -> None:
    _, path, form = ROUTES[action]
    client = clients[Role.AUTHOR]
    assert client.post(path, data=form).status_code == 403
    assert client.post(path, data={**form, "csrf_token": "forged"}).status_code == 403


def test_check_lists_each_problem_with_its_line_and_registers_nothing(
    clients: dict[Role, httpx.Client],
) -> None:
    author = clients[Role.AUTHOR]
    token = csrf_of(author.get("/").text)
    before = author.get(f"/narrative/{LETTER_YEAR}").text.count("/versions/")
    checked = author.post(
        f"/narrative/{LETTER_YEAR}/draft",
        data={"markdown": BAD, "do": "check", "csrf_token": token},
    )
    assert checked.status_code == 200
    assert "<strong>Line 3</strong>: unknown placeholder {council}" in checked.text
    assert "<strong>Line 5</strong>: images are not supported" in checked.text
    refused = author.post(
        f"/narrative/{LETTER_YEAR}/register",
        data={"markdown": BAD, "note": "should not go", "csrf_token": token},
    )
    assert refused.status_code == 400 and "Nothing was registered" in refused.text
    assert author.get(f"/narrative/{LETTER_YEAR}").text.count("/versions/") == before


async def test_a_registration_names_the_person_on_the_event_and_the_audit_trail(
    year: Office, clients: dict[Role, httpx.Client]
) -> None:
    author = clients[Role.AUTHOR]
    token = csrf_of(author.get("/").text)
    text = GOOD + "\nWritten in the workspace.\n"
    answer = author.post(
        f"/narrative/{LETTER_YEAR}/register",
        data={"markdown": text, "note": "first draft for the Ombudsman", "csrf_token": token},
    )
    assert answer.status_code == 303
    version = int(answer.headers["location"].split("registered=")[1].split("#")[0])
    listed = author.get(f"/narrative/{LETTER_YEAR}").text
    assert "first draft for the Ombudsman" in listed and "Ada Author" in listed

    settings = year.stack.settings
    registrations = [decode(r.value) for r in await read_whole_topic(settings, NARRATIVES)]
    mine = [(e, e.data) for e in registrations if isinstance(e.data, NarrativeRegistered)
            and e.data.markdown == text]  # fmt: skip
    assert len(mine) == 1
    envelope, registered = mine[0]
    assert envelope.actor == "Ada Author" and envelope.producer == "annual-review-office"
    assert registered.registered_by == "Ada Author"

    async def recorded() -> list[Envelope[OfficeActionTaken]]:
        return [
            e for e in await actions_taken(year)
            if e.data.action is OfficeAction.NARRATIVE_REGISTERED
            and e.data.subject == f"narrative {LETTER_YEAR} version {version}"
        ]  # fmt: skip

    [action] = await eventually(recorded, what="the registration's audit entry", timeout=30)
    assert action.actor == "Ada Author" and action.data.via == "workspace"
    assert action.data.financial_year is not None and action.data.financial_year.label == YEAR


def test_the_difference_between_two_versions_is_escaped(
    clients: dict[Role, httpx.Client],
) -> None:
    author = clients[Role.AUTHOR]
    token = csrf_of(author.get("/").text)
    numbers = []
    for text in (GOOD + "\nOld line.\n", GOOD + "\nNew <b>line</b> & more.\n"):
        answer = author.post(
            f"/narrative/{LETTER_YEAR}/register",
            data={"markdown": text, "note": "diff", "csrf_token": token},
        )
        assert answer.status_code == 303
        numbers.append(answer.headers["location"].split("registered=")[1].split("#")[0])
    viewer = clients[Role.VIEWER]
    diff = viewer.get(
        f"/narrative/{LETTER_YEAR}/diff", params={"from": numbers[0], "to": numbers[1]}
    )
    assert diff.status_code == 200
    assert (
        '<span class="removed"><span class="visually-hidden">removed: </span>-Old line.'
        in diff.text
    )
    assert "+New &lt;b&gt;line&lt;/b&gt; &amp; more." in diff.text
    assert "<b>line</b>" not in diff.text


def test_a_preview_shows_the_councils_letter_with_the_draft_in_a_sandboxed_frame(
    clients: dict[Role, httpx.Client],
) -> None:
    author = clients[Role.AUTHOR]
    token = csrf_of(author.get("/").text)
    page = author.post(
        f"/narrative/{LETTER_YEAR}/draft",
        data={"markdown": GOOD, "do": "preview", "council": "MAS", "csrf_token": token},
    )
    assert page.status_code == 200
    assert f'src="/narrative/{LETTER_YEAR}/preview/MAS.html"' in page.text
    letter = author.get(f"/narrative/{LETTER_YEAR}/preview/MAS.html")
    assert letter.status_code == 200
    assert "the figures of MAS Council for 2025-26 follow" in letter.text
    assert "sandbox" in letter.headers["content-security-policy"]
    assert "script-src" not in letter.headers["content-security-policy"]
    pdf = author.get(f"/narrative/{LETTER_YEAR}/preview/MAS.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    # The viewer may not preview (a draft is the author's).
    assert clients[Role.VIEWER].get(f"/narrative/{LETTER_YEAR}/preview/MAS.html").status_code == 403


async def test_a_proofs_job_makes_one_pdf_per_council_and_streams_them_as_one_zip(
    year: Office, clients: dict[Role, httpx.Client]
) -> None:
    author = clients[Role.AUTHOR]
    token = csrf_of(author.get("/").text)
    registered = author.post(
        f"/narrative/{LETTER_YEAR}/register",
        data={"markdown": GOOD, "note": "to proof", "csrf_token": token},
    )
    assert registered.status_code == 303  # proofs print the narrative in force
    started = author.post(f"/proofs/{YEAR}", data={"csrf_token": token})
    assert started.status_code == 303
    job_path = started.headers["location"]

    def finished() -> dict[str, object] | None:
        status = author.get(job_path + "/status.json").json()
        return status if status["state"] != "running" else None

    status = await eventually(finished, what="the proofs job", timeout=300, every=1)
    assert status["state"] == "done" and status["done"] == status["total"] == len(COUNCILS)

    viewer = clients[Role.VIEWER]  # every role browses and downloads
    archive = viewer.get(job_path + "/proofs.zip")
    assert archive.status_code == 200 and archive.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(archive.content)) as z:
        names = sorted(z.namelist())
        assert names == sorted(f"{YEAR}-proofs/{c}.pdf" for c in COUNCILS)
        assert all(z.read(n).startswith(b"%PDF") for n in names)
    council_page = viewer.get(job_path + "/MAS")
    assert council_page.status_code == 200 and "page-1.png" in council_page.text
    assert viewer.get(job_path + "/MAS/page-1.png").headers["content-type"] == "image/png"
    for outside in ("/MAS/..%2F..%2Fjob.json", "/MAS/job.json", "/XX/letter.pdf"):
        assert viewer.get(job_path + outside).status_code == 404, outside
    assert viewer.get(f"/proofs/{YEAR}/..%2F..%2Fetc").status_code == 404

    async def recorded() -> bool:
        return any(
            e.data.action is OfficeAction.PROOFS_MADE and e.actor == "Ada Author"
            and e.data.details.get("councils") == str(len(COUNCILS))
            for e in await actions_taken(year)
        )  # fmt: skip

    assert await eventually(recorded, what="the proofs' audit entry", timeout=30)


async def test_the_cli_registers_through_the_same_use_case_and_records_the_operator(
    year: Office, clients: dict[Role, httpx.Client], tmp_path: Path
) -> None:
    doc = tmp_path / "narrative-2026.md"
    doc.write_text(GOOD + "\nRegistered from the terminal.\n", encoding="utf-8")
    done = cli(year.stack, "letters", "narrative", "set", str(LETTER_YEAR), str(doc),
               "--by", "J Smith", "--note", "from the CLI")  # fmt: skip
    assert done.returncode == 0, done.stderr
    version = int(done.stdout.split("as version ")[1].split()[0])

    async def recorded() -> list[Envelope[OfficeActionTaken]]:
        return [
            e for e in await actions_taken(year)
            if e.data.subject == f"narrative {LETTER_YEAR} version {version}"
        ]  # fmt: skip

    [action] = await eventually(recorded, what="the CLI's audit entry", timeout=30)
    assert action.data.via == "cli" and (action.actor or "").startswith("operator:")
    assert action.data.reason == "from the CLI"
    listed = clients[Role.VIEWER].get(f"/narrative/{LETTER_YEAR}").text
    assert "J Smith" in listed and "from the CLI" in listed


async def test_the_clis_proofs_are_recorded_as_the_operators(year: Office, tmp_path: Path) -> None:
    draft = tmp_path / "draft.md"
    draft.write_text(GOOD, encoding="utf-8")
    done = cli(year.stack, "letters", "proof", YEAR, "--council", "MAS", "--out", str(tmp_path),
               "--narrative", str(draft))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "MAS" / "letter.pdf").read_bytes().startswith(b"%PDF")

    async def recorded() -> list[Envelope[OfficeActionTaken]]:
        return [
            e for e in await actions_taken(year)
            if e.data.action is OfficeAction.PROOFS_MADE and e.data.via == "cli"
        ]  # fmt: skip

    [action] = await eventually(recorded, what="the CLI proofs' audit entry", timeout=30)
    assert action.council == "MAS" and action.data.details["councils"] == "1"
    assert action.data.details["narrative_version"] == "-1"  # a draft, not registered
    assert (action.actor or "").startswith("operator:")
