"""The close with four eyes and the audit page, on the real servers, signed in through the
real Keycloak: the proposer cannot close alone (refused on the server, nothing published); a
decision applied after the proposal makes the sign-off lapse, saying why; another approver
signs off a valid proposal and the projector receives the close; the approvers are e-mailed;
every new action for every role (the matrix), and CSRF; the CLI's close marked on the audit
page and the board as made without a second signature."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date

import pytest

from services.office.roles import PERMISSIONS, Action, Role
from services.platform.namespace import service_env
from tests.support.casework import council, decided
from tests.support.narratives import register_test_narrative
from tests.support.office import REPO
from tests.support.office_close_steps import (
    APPROVERS,
    CloseOffice,
    close_office,
    close_page,
    csrf_of,
    end_proposal,
    pending_id,
    propose,
    sign_off,
    signed_in,
)
from tests.support.polling import NotYet, eventually

pytestmark = pytest.mark.integration
__all__ = ["close_office"]  # the module's fixture
USER_OF = {
    Role.AUTHOR: "author",
    Role.APPROVER: "approver",
    Role.DATA_OFFICER: "dataofficer",
    Role.VIEWER: "viewer",
}
NO_SUCH = "00000000-0000-4000-8000-000000000000"


async def _closes(co: CloseOffice) -> dict[int, str]:
    rows = await co.office.stack.fetch("SELECT financial_year, close_id FROM readmodel.year_closes")
    return {r["financial_year"]: str(r["close_id"]) for r in rows}


async def _casework(co: CloseOffice, *events: object) -> None:
    await co.office.stack.publish(events)  # type: ignore[arg-type]
    await co.office.stack.wait_caught_up()


async def test_the_proposer_cannot_sign_off_their_own_close_and_approvers_are_emailed(
    close_office: CloseOffice,
) -> None:
    co = close_office
    await _casework(
        co, council("MAN", "District"), decided("MAN", "19001", date(2019, 6, 1), "upheld")
    )
    ends_before = await co.office.stack.end_offsets()
    author = signed_in(co.office, "author")
    answer = propose(author, "2019-20")
    assert answer.status_code == 303, answer.text[:2000]
    page = close_page(author, "2019-20").text
    main = page[page.index("<main") :]
    assert "Waiting for sign-off" in main, main
    assert "Proposed by <strong>Ada Author</strong>" in main
    proposal = pending_id(page)
    assert proposal is not None  # the author's own withdraw form
    # The author is refused the sign-off on the server (403), whatever the page offers.
    refused = author.post(
        f"/years/2019-20/close/{proposal}/sign-off", data={"csrf_token": csrf_of(page)}
    )
    assert refused.status_code == 403
    assert await co.office.stack.end_offsets() == ends_before  # no close marker published
    assert 2019 not in await _closes(co)

    async def emailed() -> bool:
        subjects = [(m["Subject"], m["To"]) for m in co.mail.messages()]
        if not subjects:
            raise NotYet("no e-mail to the approvers yet")
        return True

    await eventually(emailed, what="the approvers' e-mail", timeout=30)
    message = co.mail.messages()[0]
    assert message["Subject"] == "A close of 2019-20 waits for your sign-off"
    assert all(a in message["To"] for a in APPROVERS)
    assert "/years/2019-20/close" in message.get_payload()
    # Withdrawn by its proposer, with a reason: the page and the trail say so.
    assert (
        end_proposal(author, "2019-20", proposal, "withdraw", "wrong letter date").status_code
        == 303
    )
    page = close_page(author, "2019-20").text
    assert "Waiting for sign-off" not in page and "wrong letter date" in page


async def test_a_late_decision_makes_the_sign_off_lapse_and_another_approver_then_closes(
    close_office: CloseOffice,
) -> None:
    co = close_office
    await register_test_narrative(co.office.stack.settings, 2021)
    await _casework(
        co, council("ALL", "District"), decided("ALL", "20001", date(2020, 6, 1), "upheld")
    )
    officer = signed_in(co.office, "dataofficer")
    assert (
        propose(
            officer, "2020-21", letter_date="2021-07-22", publication_date="2021-07-29"
        ).status_code
        == 303
    )
    await _casework(co, decided("ALL", "20002", date(2020, 9, 1), "not_upheld"))
    approver = signed_in(co.office, "approver")
    page = close_page(approver, "2020-21").text
    assert "a sign-off now would lapse" in page  # shown before anyone tries
    proposal = pending_id(page)
    assert proposal is not None
    answer = sign_off(approver, "2020-21", proposal)
    assert answer.status_code == 303
    page = close_page(approver, "2020-21").text
    assert "lapsed" in page and "the year&#39;s figures changed since the proposal" in page
    assert 2020 not in await _closes(co)
    # Proposed again (bound to the figures as they are now); approver2 signs it off.
    assert (
        propose(
            officer, "2020-21", letter_date="2021-07-22", publication_date="2021-07-29"
        ).status_code
        == 303
    )
    approver2 = signed_in(co.office, "approver2")
    proposal = pending_id(close_page(approver2, "2020-21").text)
    assert proposal is not None
    answer = sign_off(approver2, "2020-21", proposal)
    assert answer.status_code == 303
    assert "is closed" in close_page(approver2, "2020-21").text

    async def closed() -> bool:
        if 2020 not in await _closes(co):
            raise NotYet("the projector has not recorded the close")
        return True

    await eventually(
        closed, what="the close of 2020-21", timeout=60, explain=co.office.stack.service_tails
    )
    board = approver2.get("/").text
    assert "signed off by Bea Second-Approver, proposed by Dev Data-Officer" in board
    audit = approver2.get("/audit", params={"year": "2020-21"}).text
    for line in ("close proposed", "close lapsed", "close signed off"):
        assert line in audit
    assert "Dev Data-Officer" in audit and "Bea Second-Approver" in audit


POSTS = {
    Action.PROPOSE_CLOSE: "/years/2022-23/close/propose",
    Action.SIGN_OFF_CLOSE: f"/years/2022-23/close/{NO_SUCH}/sign-off",
    Action.REJECT_CLOSE: f"/years/2022-23/close/{NO_SUCH}/reject",
    Action.WITHDRAW_CLOSE: f"/years/2022-23/close/{NO_SUCH}/withdraw",
}
GETS = {Action.VIEW_CLOSE: "/years/2022-23/close", Action.VIEW_AUDIT: "/audit"}


@pytest.mark.parametrize("role", list(Role))
def test_every_close_action_for_every_role_as_the_table_says_and_csrf(
    close_office: CloseOffice, role: Role
) -> None:
    client = signed_in(close_office.office, USER_OF[role])
    for action, path in GETS.items():
        assert client.get(path).status_code == 200, (role, action)
    token = csrf_of(client.get("/").text)
    for action, path in POSTS.items():
        # No token, a forged one: refused whoever asks.
        assert client.post(path, data={}).status_code == 403, (role, action)
        assert client.post(path, data={"csrf_token": "forged"}).status_code == 403
        answer = client.post(path, data={"csrf_token": token, "reason": "matrix"})
        if role in PERMISSIONS[action]:
            # Allowed: the rules answer (an empty proposal form, no such proposal): 409,
            # never a role refusal, and nothing happens.
            assert answer.status_code == 409, (role, action, answer.text[:500])
            assert "Not done:" in answer.text
        else:
            assert answer.status_code == 403, (role, action)
            assert "does not allow this" in answer.text
    assert "close proposed" not in client.get("/audit", params={"year": "2022-23"}).text


async def test_the_cli_close_is_marked_as_made_without_a_second_signature(
    close_office: CloseOffice,
) -> None:
    co = close_office
    stack = co.office.stack
    await register_test_narrative(stack.settings, 2022)
    done = subprocess.run(
        [sys.executable, "-m", "services.cli", "close-year", "2021-22", "--letter-date",
         "2022-07-22", "--publication-date", "2022-07-29", "--signatory-name", "Amerdeep Somal",
         "--signatory-title", "Ombudsman"],
        cwd=REPO, env={**os.environ, **service_env(stack.settings, "operator")},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr

    async def closed() -> bool:
        if 2021 not in await _closes(co):
            raise NotYet("the projector has not recorded the CLI's close")
        return True

    await eventually(closed, what="the close of 2021-22", timeout=60, explain=stack.service_tails)
    viewer = signed_in(co.office, "viewer")
    audit = viewer.get("/audit", params={"year": "2021-22"}).text
    assert "year closed alone" in audit and "(without a second signature)" in audit
    assert "operator:" in audit and "CLI" in audit
    assert "closed without a second signature (the CLI, by operator:" in viewer.get("/").text
    page = close_page(viewer, "2021-22").text
    assert "Propose the close" not in page  # a viewer is never offered it
    author = signed_in(co.office, "author")
    refused = propose(author, "2021-22", letter_date="2022-07-22", publication_date="2022-07-29")
    assert refused.status_code == 409 and "already closed" in refused.text


async def test_an_approver_rejects_with_a_reason_and_a_new_proposal_can_follow(
    close_office: CloseOffice,
) -> None:
    co = close_office
    await register_test_narrative(co.office.stack.settings, 2024)
    author = signed_in(co.office, "author")
    terms = {"letter_date": "2024-07-22", "publication_date": "2024-07-29"}
    assert propose(author, "2023-24", **terms).status_code == 303
    approver = signed_in(co.office, "approver")
    proposal = pending_id(close_page(approver, "2023-24").text)
    assert proposal is not None
    no_reason = end_proposal(approver, "2023-24", proposal, "reject", "   ")
    assert no_reason.status_code == 409 and "give a reason" in no_reason.text
    # The approver may not withdraw someone else's proposal (the role refuses it first).
    assert end_proposal(approver, "2023-24", proposal, "withdraw", "x").status_code == 403
    answer = end_proposal(approver, "2023-24", proposal, "reject", "the signatory is on leave")
    assert answer.status_code == 303
    page = close_page(author, "2023-24").text
    assert "Waiting for sign-off" not in page and "the signatory is on leave" in page
    audit = author.get("/audit", params={"year": "2023-24"}).text
    assert "close rejected" in audit and "Amal Approver" in audit
    assert "the signatory is on leave" in audit
    # A rejected proposal is over: the next one may be made.
    assert propose(author, "2023-24", **terms).status_code == 303
    again = pending_id(close_page(author, "2023-24").text)
    assert again is not None and again != proposal


def test_hostile_form_values_are_refused_with_a_reason_and_record_nothing(
    close_office: CloseOffice,
) -> None:
    author = signed_in(close_office.office, "author")
    before = author.get("/audit").text.count("<tr")
    for terms in (
        {"signatory_name": "N" * 150},
        {"letter_date": "22/07/2020"},
        {"signatory_title_1": "Ombudsman\u0000"},
    ):
        answer = propose(author, "2019-20", **terms)
        assert answer.status_code in (400, 409), (terms, answer.status_code)
        assert "Not done:" in answer.text
    assert author.get("/audit").text.count("<tr") == before
    # A reason the trail's contract refuses (a control character) records nothing either.
    assert propose(author, "2019-20").status_code == 303
    proposal = pending_id(close_page(author, "2019-20").text)
    assert proposal is not None
    approver = signed_in(close_office.office, "approver")
    answer = end_proposal(approver, "2019-20", proposal, "reject", "bad\u0000reason")
    assert answer.status_code == 409 and "cannot be recorded" in answer.text
    assert "Waiting for sign-off" in close_page(approver, "2019-20").text
    assert end_proposal(author, "2019-20", proposal, "withdraw", "test over").status_code == 303
