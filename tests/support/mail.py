"""A real SMTP server on loopback for the letter service (aiosmtpd, services/letters/
smtp_server.py), what it accepted counted in its Maildir, and the letter service's
environment and outbox states the tests wait for."""

from __future__ import annotations

import asyncio
import mailbox
import socket
import time
from collections import Counter
from pathlib import Path

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
    """Until the outbox holds exactly ``want`` (state -> letters)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            rows = await stack.fetch("SELECT state, count(*) AS n FROM letters.outbox GROUP BY 1")
            have = {r["state"]: r["n"] for r in rows}
        except Exception:
            have = {}
        if have == want:
            return
        if time.monotonic() > deadline:
            logs = "\n".join(f"--- {s.log.name}\n{s.tail(15)}" for s in stack.services)
            raise TimeoutError(f"outbox states {have}, wanted {want}\n{logs}")
        await asyncio.sleep(0.25)
