"""Secure SMTP through the real letter service (projector, outbox in PostgreSQL, dispatcher)
against aiosmtpd servers that offer STARTTLS with a certificate from a CA made for the test,
or offer none. What is asserted is seen from the server's side: whether the login and the
message came inside TLS, and what arrived at all.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from contracts.financial_year import FinancialYear
from services.domain.letter_lifecycle import Transition
from services.letters import operations
from tests.support.casework import council, decided, random_casework
from tests.support.mail import letters_env, wait_states
from tests.support.smtp_tls import (
    PASSWORD,
    TOKEN,
    USER,
    make_ca,
    server_certificate,
    start_server,
)
from tests.support.stack import Stack

COUNCILS = ["T01", "T02"]
YEAR = FinancialYear.parse("2019-20")


async def close_a_year(stack: Stack) -> None:
    events = [council(c, "District") for c in COUNCILS]
    events += list(random_casework(COUNCILS, 40, seed=17, years=(2019,)))
    events += [decided("T01", "TLS-1", date(2019, 9, 1), "upheld")]
    await stack.publish(events)
    async with stack.publisher() as p:
        await p.close_year(
            {
                "financial_year": "2019-20",
                "letter_date": "2020-07-22",
                "publication_date": "2020-07-29",
                "signatory": {"name": "Michael King", "titles": ["Ombudsman"]},
            },
            producer="tests",
        )


async def reasons(stack: Stack) -> dict[str, str]:
    rows = await stack.fetch("SELECT council, last_error FROM letters.outbox ORDER BY council")
    return {r["council"]: r["last_error"] or "" for r in rows}


async def resend_all(stack: Stack, note: str) -> None:
    conn = await stack.connect()
    try:
        for code in COUNCILS:
            await operations.move(conn, Transition.RESEND, code, YEAR, note)
    finally:
        await conn.close()


async def test_a_wrong_ca_sends_nothing_then_the_right_one_sends_every_letter_inside_tls(
    stack: Stack, tmp_path: Path
) -> None:
    """STARTTLS offered, AUTH only inside it. With a CA that did not sign the server's
    certificate: nothing is sent, not even the login, and every letter is failed with what
    to fix. With the right CA and a resend: every letter goes, logged in and sent inside TLS."""
    ca, wrong = make_ca(tmp_path / "ca", "test-ca"), make_ca(tmp_path / "ca", "other-ca")
    server = start_server(tmp_path / "mail", tls=server_certificate(tmp_path / "ca", ca))
    try:
        env = letters_env(
            server.mail,
            AR_LETTERS_SMTP_USERNAME=USER,
            AR_LETTERS_SMTP_PASSWORD=PASSWORD,
            AR_LETTERS_SMTP_CA_FILE=str(wrong.cert),
        )
        stack.start("services.projector")
        letters = stack.start("services.letters", **env)
        await close_a_year(stack)
        await wait_states(stack, {"failed": len(COUNCILS)})

        assert server.mail.messages() == []
        assert server.recording.logins == [] and server.recording.mail_from == 0
        for reason in (await reasons(stack)).values():
            assert f"the TLS certificate of 127.0.0.1:{server.mail.port} was not verified" in reason
            assert f"against the CA file {wrong.cert}" in reason
            assert "AR_LETTERS_SMTP_CA_FILE" in reason and "letters resend" in reason
        assert PASSWORD not in letters.tail(400)

        # The operator fixes the setting, restarts the service and resends.
        letters.stop()
        letters = stack.start(
            "services.letters", **{**env, "AR_LETTERS_SMTP_CA_FILE": str(ca.cert)}
        )
        await resend_all(stack, "AR_LETTERS_SMTP_CA_FILE fixed")
        await wait_states(stack, {"sent": len(COUNCILS)})

        arrived = server.recording.arrivals
        assert sorted(a.message_id for a in arrived) == [
            f"<annual-review.2019-20.{c}.v1@lgo.example>" for c in COUNCILS
        ]
        assert all(a.inside_tls and a.authenticated for a in arrived)
        assert server.recording.logins, "the service never logged in"
        assert all(x.inside_tls for x in server.recording.logins)
        assert {(x.user, x.secret) for x in server.recording.logins} == {(USER, PASSWORD)}
        assert len(server.mail.messages()) == len(COUNCILS)
        assert PASSWORD not in letters.tail(400)
    finally:
        server.stop()


async def test_with_a_password_and_no_starttls_offered_nothing_is_sent_and_the_letter_says_why(
    stack: Stack, tmp_path: Path
) -> None:
    """The server offers AUTH in clear text (aiosmtplib alone would log in): the password
    never leaves the service, no message is sent, and each letter is failed with the fix."""
    server = start_server(tmp_path / "mail", tls=None)
    try:
        env = letters_env(
            server.mail, AR_LETTERS_SMTP_USERNAME=USER, AR_LETTERS_SMTP_PASSWORD=PASSWORD
        )
        stack.start("services.projector")
        letters = stack.start("services.letters", **env)
        await close_a_year(stack)
        await wait_states(stack, {"failed": len(COUNCILS)})

        assert server.recording.logins == [] and server.recording.mail_from == 0
        assert server.mail.messages() == []
        for reason in (await reasons(stack)).values():
            assert f"127.0.0.1:{server.mail.port} does not offer STARTTLS" in reason
            assert "never sent in clear text" in reason and "letters resend" in reason
        assert PASSWORD not in letters.tail(400)
    finally:
        server.stop()


async def test_xoauth2_logs_in_inside_tls_with_the_token_from_its_file(
    stack: Stack, tmp_path: Path
) -> None:
    ca = make_ca(tmp_path / "ca", "test-ca")
    server = start_server(tmp_path / "mail", tls=server_certificate(tmp_path / "ca", ca))
    token = tmp_path / "secrets" / "smtp-oauth.token"
    token.parent.mkdir()
    token.write_text(TOKEN + "\n")
    try:
        stack.start("services.projector")
        letters = stack.start(
            "services.letters",
            **letters_env(
                server.mail,
                AR_LETTERS_SMTP_TLS="required",
                AR_LETTERS_SMTP_AUTH="xoauth2",
                AR_LETTERS_SMTP_USERNAME=USER,
                AR_LETTERS_SMTP_OAUTH_TOKEN_FILE=str(token),
                AR_LETTERS_SMTP_CA_FILE=str(ca.cert),
            ),
        )
        await close_a_year(stack)
        await wait_states(stack, {"sent": len(COUNCILS)})

        assert {(x.mechanism, x.user, x.secret, x.inside_tls) for x in server.recording.logins} == {
            ("XOAUTH2", USER, TOKEN, True)
        }
        assert len(server.recording.arrivals) == len(COUNCILS)
        assert all(a.inside_tls and a.authenticated for a in server.recording.arrivals)
        assert TOKEN not in letters.tail(400)
    finally:
        server.stop()


async def test_implicit_tls_sends_inside_tls_from_the_first_byte(
    stack: Stack, tmp_path: Path
) -> None:
    ca = make_ca(tmp_path / "ca", "test-ca")
    cert = server_certificate(tmp_path / "ca", ca)
    server = start_server(tmp_path / "mail", tls=cert, implicit=True)
    try:
        stack.start("services.projector")
        stack.start(
            "services.letters",
            **letters_env(
                server.mail,
                AR_LETTERS_SMTP_TLS="implicit",
                AR_LETTERS_SMTP_USERNAME=USER,
                AR_LETTERS_SMTP_PASSWORD=PASSWORD,
                AR_LETTERS_SMTP_CA_FILE=str(ca.cert),
            ),
        )
        await close_a_year(stack)
        await wait_states(stack, {"sent": len(COUNCILS)})

        assert len(server.recording.arrivals) == len(COUNCILS)
        assert all(a.inside_tls and a.authenticated for a in server.recording.arrivals)
        assert all(x.inside_tls for x in server.recording.logins)
    finally:
        server.stop()


async def test_a_message_that_cannot_be_built_ends_failed_not_left_in_sending(
    stack: Stack, tmp_path: Path
) -> None:
    """A From: with a line break (header injection) is refused by the email package: the
    letter is failed with the reason at once, not left in sending for the reconciler."""
    server = start_server(tmp_path / "mail", tls=None)
    try:
        stack.start("services.projector")
        stack.start(
            "services.letters",
            **letters_env(
                server.mail, AR_LETTERS_SENDER="Annual Review <ar@lgo.example>\nBcc: x@evil.example"
            ),
        )
        await close_a_year(stack)
        await wait_states(stack, {"failed": len(COUNCILS)}, timeout=60)

        assert server.recording.mail_from == 0 and server.mail.messages() == []
        for reason in (await reasons(stack)).values():
            assert reason.startswith("the e-mail could not be built: ")
            assert "AR_LETTERS_SENDER" in reason
    finally:
        server.stop()
