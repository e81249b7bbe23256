"""A real SMTP server on loopback for the letter service (aiosmtpd, services/letters/
smtp_server.py), what it accepted counted in its Maildir, and the letter service's
environment and outbox states the tests wait for."""

from __future__ import annotations

import mailbox
import socket
from collections import Counter
from pathlib import Path

from tests.support.polling import NotYet, eventually
from tests.support.stack import Stack


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Mail:
    def __init__(self, path: Path, port: int) -> None:
        self.path, self.port = path, port

    def messages(self) -> list[mailbox.MaildirMessage]:
        return list(mailbox.Maildir(self.path, create=False))

    def per_letter(self) -> Counter[str]:
        return Counter(str(m["X-Annual-Review-Letter"]) for m in self.messages())


def letters_env(mail: Mail, **extra: str) -> dict[str, str]:
    return {
        "AR_SMTP_PORT": str(mail.port),
        "AR_LETTERS_RECONCILE_MAILDIR": str(mail.path),
        "AR_LETTERS_RENDER_WORKERS": "1",
        **extra,
    }


async def wait_states(stack: Stack, want: dict[str, int], timeout: float = 120.0) -> None:
    """Until the outbox holds exactly ``want`` (state -> letters); the outbox not created yet
    is "not yet"."""

    async def reached() -> bool:
        rows = await stack.fetch("SELECT state, count(*) AS n FROM letters.outbox GROUP BY 1")
        have = {r["state"]: r["n"] for r in rows}
        if have != want:
            raise NotYet(f"outbox states {have}, wanted {want}")
        return True

    await eventually(
        reached, what="the outbox states", timeout=timeout, explain=stack.service_tails
    )
