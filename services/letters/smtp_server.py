"""A real local SMTP server (aiosmtpd) that keeps every accepted message in a Maildir.

For the demo and the tests: letters really travel over SMTP on loopback, and the Maildir
doubles as the archive mailbox the dispatcher reconciles against after a crash. A message
is written to the Maildir before the server answers 250, so "accepted" implies "archived".
It can also misbehave on purpose: refuse the first N messages with a 451 (transient), or
refuse some recipients with a 550 (permanent).
"""

from __future__ import annotations

import argparse
import asyncio
import mailbox
import signal
import threading
from email import message_from_bytes
from email.policy import default
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


class MaildirHandler:
    def __init__(
        self,
        maildir: Path,
        *,
        fail_first: int = 0,
        refuse: tuple[str, ...] = (),
        delay_s: float = 0.0,
    ) -> None:
        self.delay_s = delay_s
        self.box = mailbox.Maildir(maildir, create=True)
        self.lock = threading.Lock()
        self.fail_left = fail_first
        self.refuse = tuple(r.lower() for r in refuse)
        self.accepted = 0

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        if any(part in address.lower() for part in self.refuse):
            return f"550 5.1.1 <{address}>: recipient refused by test server"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay_s:
            await asyncio.sleep(self.delay_s)  # a slow relay: keeps senders mid-conversation
        with self.lock:
            if self.fail_left > 0:
                self.fail_left -= 1
                return "451 4.3.0 temporary failure (test server told to fail)"
        msg = message_from_bytes(envelope.content, policy=default)
        del msg["X-Envelope-To"]
        msg["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        with self.lock:
            self.box.add(msg)
            self.accepted += 1
        return f"250 2.0.0 accepted {msg['Message-ID']}"


def start(
    maildir: Path, host: str = "127.0.0.1", port: int = 2525, **handler: Any
) -> tuple[Controller, MaildirHandler]:
    h = MaildirHandler(maildir, **handler)
    controller = Controller(h, hostname=host, port=port, data_size_limit=20 * 1024 * 1024)
    controller.start()
    return controller, h


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2525)
    parser.add_argument("--maildir", type=Path, default=Path(".local/mail"))
    parser.add_argument("--fail-first", type=int, default=0, help="answer 451 to the first N")
    parser.add_argument(
        "--refuse", action="append", default=[], help="550 recipients containing this"
    )
    args = parser.parse_args(argv)
    controller, _ = start(args.maildir, args.host, args.port, fail_first=args.fail_first,
                          refuse=tuple(args.refuse))  # fmt: skip
    print(f"SMTP server on {args.host}:{args.port}, Maildir {args.maildir}", flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    done.wait()
    controller.stop()


if __name__ == "__main__":
    main()
