"""The letter and its copies go in one SMTP conversation, the letter first: once the server
has accepted the letter it is sent, whatever happens to the copies' message after it. A
refused copy must not make the send fail, or the retry would e-mail the chief executive a
second time (a letter is never sent twice). A real SMTP server on loopback (aiosmtpd)."""

from __future__ import annotations

from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from services.letters import smtp_client
from services.letters.config import LettersSettings
from services.letters.smtp_policy import TlsMode
from tests.support.mail import free_port

REFUSED = "leader@copies.example"


class RefusingCopies:
    """Accepts every recipient but :data:`REFUSED`, and keeps what it accepted."""

    def __init__(self) -> None:
        self.accepted: list[tuple[list[str], str]] = []

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address == REFUSED:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message_id = next(
            line.split(":", 1)[1].strip()
            for line in envelope.content.decode().splitlines()
            if line.lower().startswith("message-id:")
        )
        self.accepted.append((list(envelope.rcpt_tos), message_id))
        return "250 2.0.0 queued"


@pytest.fixture
def server() -> Iterator[tuple[RefusingCopies, int]]:
    handler = RefusingCopies()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def message(to: str, message_id: str) -> EmailMessage:
    m = EmailMessage()
    m["From"] = "annual.review@lgo.example"
    m["To"] = to
    m["Subject"] = "Annual Review letter"
    m["Message-ID"] = message_id
    m.set_content("The letter.")
    return m


async def test_a_refused_copy_leaves_the_letter_sent_once_and_says_so(
    server: tuple[RefusingCopies, int],
) -> None:
    handler, port = server
    letter = message("chief.executive@council.example", "<l1@lgo.example>")
    copies = message(REFUSED, "<l1.copies@lgo.example>")

    response = await smtp_client.send(
        letter,
        then=[copies],
        host="127.0.0.1",
        port=port,
        settings=LettersSettings(smtp_tls=TlsMode.OPPORTUNISTIC),
        context=smtp_client.tls_context(None),
    )

    # The letter went once, and the send did not fail: the outbox records it as sent, with
    # the copies' refusal in the server's answer it keeps (`letters show`).
    assert handler.accepted == [(["chief.executive@council.example"], "<l1@lgo.example>")]
    assert "queued" in response
    assert "copies not accepted" in response and "<l1.copies@lgo.example>" in response
