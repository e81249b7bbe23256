"""An SMTP server that offers STARTTLS with a certificate from a CA made for the test, and
records, on its own side, whether each AUTH and each message came inside TLS.

The CA and the server's certificate are made with the openssl command (as infra/kafka/tls.sh
makes the broker's), so no package is needed for it. The server is aiosmtpd, like
services/letters/smtp_server.py, whose Maildir handler it extends.
"""

from __future__ import annotations

import base64
import ssl
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from services.letters.smtp_server import MaildirHandler
from tests.support.mail import Mail, free_port

USER, PASSWORD, TOKEN = "letters@lgo.example", "s3cret-smtp-pw", "ya29.test-access-token"


@dataclass(frozen=True)
class Ca:
    cert: Path
    key: Path


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def make_ca(directory: Path, name: str) -> Ca:
    """A self-signed CA (an hour's validity is plenty for a test)."""
    directory.mkdir(parents=True, exist_ok=True)
    ca = Ca(directory / f"{name}.crt", directory / f"{name}.key")
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
             "-subj", f"/CN={name}", "-keyout", str(ca.key), "-out", str(ca.cert),
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")  # fmt: skip
    return ca


def server_certificate(directory: Path, ca: Ca, host: str = "127.0.0.1") -> tuple[Path, Path]:
    """A server certificate for ``host`` (an IP address SAN), signed by ``ca``."""
    key, csr, cert = directory / "server.key", directory / "server.csr", directory / "server.crt"
    ext = directory / "server.ext"
    ext.write_text(
        f"subjectAltName=IP:{host}\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n"
    )
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={host}",
             "-keyout", str(key), "-out", str(csr))  # fmt: skip
    _openssl("x509", "-req", "-in", str(csr), "-CA", str(ca.cert), "-CAkey", str(ca.key),
             "-CAcreateserial", "-days", "1", "-extfile", str(ext), "-out", str(cert))  # fmt: skip
    return cert, key


@dataclass(frozen=True)
class Login:
    mechanism: str
    user: str
    secret: str
    inside_tls: bool


@dataclass(frozen=True)
class Arrival:
    message_id: str
    inside_tls: bool
    authenticated: bool


@dataclass
class Recording:
    logins: list[Login] = field(default_factory=list)
    arrivals: list[Arrival] = field(default_factory=list)
    mail_from: int = 0  # MAIL FROM commands seen, accepted or not


def inside_tls(server: Any) -> bool:
    """Whether the server's side of the connection is TLS now (after STARTTLS aiosmtpd swaps
    in the TLS transport; with implicit TLS it is TLS from the start)."""
    return (
        server.transport is not None and server.transport.get_extra_info("ssl_object") is not None
    )


class RecordingHandler(MaildirHandler):
    """Keeps every message (the Maildir) and records the session it came in."""

    def __init__(self, maildir: Path, recording: Recording) -> None:
        super().__init__(maildir)
        self.recording = recording

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        self.recording.mail_from += 1
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        answer = await super().handle_DATA(server, session, envelope)
        if answer.startswith("250"):
            message_id = answer.rsplit(" ", 1)[-1]
            self.recording.arrivals.append(
                Arrival(message_id, inside_tls(server), bool(session.authenticated))
            )
        return answer

    async def auth_XOAUTH2(self, server: Any, args: list[str]) -> AuthResult:
        """RFC-less but documented by Google and Microsoft: base64 of
        ``user=<user>\\x01auth=Bearer <token>\\x01\\x01``, sent as the initial response."""
        fields = base64.b64decode(args[1]).decode().split("\x01")
        user = fields[0].removeprefix("user=")
        token = fields[1].removeprefix("auth=Bearer ")
        self.recording.logins.append(Login("XOAUTH2", user, token, inside_tls(server)))
        return AuthResult(success=(user, token) == (USER, TOKEN), handled=False)


def _authenticator(recording: Recording) -> Any:
    def check(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        assert isinstance(data, LoginPassword)
        user, secret = data.login.decode(), data.password.decode()
        recording.logins.append(Login(mechanism, user, secret, inside_tls(server)))
        return AuthResult(success=(user, secret) == (USER, PASSWORD))

    return check


@dataclass
class TlsMail:
    mail: Mail
    recording: Recording
    controller: Controller

    def stop(self) -> None:
        self.controller.stop()


def start_server(
    maildir: Path, *, tls: tuple[Path, Path] | None, implicit: bool = False
) -> TlsMail:
    """On a free loopback port: STARTTLS offered (and AUTH only inside it) with ``tls`` (the
    server's certificate and key), or TLS from the first byte with ``implicit``; without
    ``tls``, no STARTTLS and AUTH offered in clear text (a server that would take a password
    in clear: the service must not give it)."""
    recording = Recording()
    handler = RecordingHandler(maildir, recording)
    context = None
    if tls is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(tls[0]), str(tls[1]))
    port = free_port()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        ssl_context=context if implicit else None,
        tls_context=None if implicit else context,
        require_starttls=False,
        authenticator=_authenticator(recording),
        # aiosmtpd's auth_require_tls counts STARTTLS only: with implicit TLS it would offer
        # no AUTH at all, though the whole connection is TLS.
        auth_require_tls=tls is not None and not implicit,
        data_size_limit=20 * 1024 * 1024,
    )
    controller.start()
    return TlsMail(Mail(maildir, port), recording, controller)
