"""When the letter service may talk to an SMTP server, and what it says when it may not.

Pure: no I/O. The SMTP client (services/letters/smtp_client.py) asks these functions at
each step of the conversation and does what they decide; the settings
(services/letters/config.py) ask :func:`settings_problems` at start.

The rules (docs/security.md, "Mail"):

- TLS is used whenever the server offers it (``opportunistic``, the default), always
  (``required``: STARTTLS or nothing) or from the first byte (``implicit``, port 465). The
  server's certificate is always verified, and its name checked against AR_SMTP_HOST.
- Credentials (a password or an OAuth token) make TLS required whatever the mode: AUTH never
  crosses the network in clear text. aiosmtplib alone would log in without TLS when a server
  offers AUTH in clear text; the client asks :func:`before_auth` first.
- A letter that cannot be sent safely is not sent: it ends ``failed`` with a reason that
  says what to fix, and an operator resends it once the settings are fixed.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

RESEND = "then `annual-review letters resend`"
# The password mechanisms aiosmtplib's login() can use (it tries them in this order).
PASSWORD_MECHANISMS = frozenset({"CRAM-MD5", "PLAIN", "LOGIN"})


class TlsMode(StrEnum):
    """AR_LETTERS_SMTP_TLS."""

    OPPORTUNISTIC = "opportunistic"  # STARTTLS when offered; required with credentials
    REQUIRED = "required"  # STARTTLS or nothing is sent
    IMPLICIT = "implicit"  # TLS from the first byte (SMTPS, port 465)


class SmtpAuth(StrEnum):
    """AR_LETTERS_SMTP_AUTH: how the service logs in when it has a user."""

    PASSWORD = "password"  # noqa: S105 (the mode's name) AUTH PLAIN/LOGIN with the password
    XOAUTH2 = "xoauth2"  # AUTH XOAUTH2 with an OAuth 2.0 access token (Exchange Online)


class TlsStep(StrEnum):
    """What the client does after the server's first EHLO answer."""

    ENCRYPTED = "encrypted"  # already TLS (implicit): go on
    STARTTLS = "starttls"  # upgrade, then EHLO again
    CLEAR = "clear"  # no TLS offered, none required, no credentials: go on in clear text


class CannotSendSafely(Exception):
    """The letter must not be sent as the service is configured (no TLS where it is required,
    a certificate not verified, credentials the server refuses). ``reason`` says what to fix;
    it never carries a password or a token."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def settings_problems(
    *,
    tls: TlsMode,
    auth: SmtpAuth,
    username: str | None,
    has_password: bool,
    token_file: Path | None,
) -> list[str]:
    """What contradicts itself in the SMTP settings (empty: nothing). Checked at start, so a
    service with settings that could never send refuses to start rather than fail every
    letter."""
    problems: list[str] = []
    if auth is SmtpAuth.PASSWORD:
        if username and not has_password:
            problems.append(
                "AR_LETTERS_SMTP_USERNAME is set without AR_LETTERS_SMTP_PASSWORD "
                "(or set AR_LETTERS_SMTP_AUTH=xoauth2 with AR_LETTERS_SMTP_OAUTH_TOKEN_FILE)"
            )
        if has_password and not username:
            problems.append("AR_LETTERS_SMTP_PASSWORD is set without AR_LETTERS_SMTP_USERNAME")
        if token_file is not None:
            problems.append(
                "AR_LETTERS_SMTP_OAUTH_TOKEN_FILE is set but AR_LETTERS_SMTP_AUTH is password "
                "(set AR_LETTERS_SMTP_AUTH=xoauth2 to log in with the token)"
            )
    else:
        if not username:
            problems.append(
                "AR_LETTERS_SMTP_AUTH=xoauth2 needs AR_LETTERS_SMTP_USERNAME (the mailbox "
                "that sends, e.g. annual.review@lgo.example)"
            )
        if token_file is None:
            problems.append("AR_LETTERS_SMTP_AUTH=xoauth2 needs AR_LETTERS_SMTP_OAUTH_TOKEN_FILE")
        if has_password:
            problems.append(
                "AR_LETTERS_SMTP_PASSWORD is set but AR_LETTERS_SMTP_AUTH=xoauth2 logs in with "
                "the token: unset one of them"
            )
    return problems


def tls_step(
    mode: TlsMode, *, credentials: bool, offers_starttls: bool, encrypted: bool, server: str
) -> TlsStep:
    """After the server's first EHLO answer: go on encrypted, upgrade, go on in clear text,
    or refuse (:class:`CannotSendSafely`, nothing sent)."""
    if encrypted:
        return TlsStep.ENCRYPTED
    if mode is TlsMode.IMPLICIT:  # the client connects with TLS: this is a defect, not a server
        raise CannotSendSafely(f"not sent: the connection to {server} is not encrypted")
    if offers_starttls:
        return TlsStep.STARTTLS
    if mode is TlsMode.REQUIRED:
        raise CannotSendSafely(
            f"not sent: {server} does not offer STARTTLS and AR_LETTERS_SMTP_TLS=required. "
            "Point AR_SMTP_HOST/AR_SMTP_PORT at a server that offers it (the submission "
            "port, 587), or set AR_LETTERS_SMTP_TLS=implicit for a TLS port (465); " + RESEND
        )
    if credentials:
        raise CannotSendSafely(
            f"not sent: {server} does not offer STARTTLS, and the SMTP credentials "
            "(AR_LETTERS_SMTP_USERNAME) are never sent in clear text. Point "
            "AR_SMTP_HOST/AR_SMTP_PORT at a server that offers STARTTLS (the submission "
            "port, 587), or set AR_LETTERS_SMTP_TLS=implicit for a TLS port (465), or unset "
            "the credentials for a relay that trusts this host; " + RESEND
        )
    return TlsStep.CLEAR


def before_auth(auth: SmtpAuth, *, encrypted: bool, offered: list[str], server: str) -> None:
    """Just before AUTH: the session must be encrypted and the server must offer the
    mechanism (``offered``: the AUTH mechanisms of its EHLO answer, any case)."""
    if not encrypted:
        raise CannotSendSafely(
            f"not sent: the session with {server} is not encrypted and AUTH never goes in "
            "clear text; " + RESEND
        )
    mechanisms = {m.upper() for m in offered}
    wanted = {"XOAUTH2"} if auth is SmtpAuth.XOAUTH2 else PASSWORD_MECHANISMS
    if not mechanisms & wanted:
        shown = ", ".join(sorted(mechanisms)) or "none"
        fix = (
            "use AR_LETTERS_SMTP_AUTH=password"
            if mechanisms & PASSWORD_MECHANISMS
            else "use AR_LETTERS_SMTP_AUTH=xoauth2"
            if "XOAUTH2" in mechanisms
            else "check that AR_SMTP_HOST/AR_SMTP_PORT is the server's submission port"
        )
        raise CannotSendSafely(
            f"not sent: {server} does not offer AUTH {' or '.join(sorted(wanted))} "
            f"(it offers: {shown}); {fix}; " + RESEND
        )


def certificate_not_verified(server: str, detail: str, ca_file: Path | None) -> str:
    """The reason a letter was not sent when the server's certificate failed verification."""
    trust = f"the CA file {ca_file}" if ca_file else "the system's CAs"
    return (
        f"not sent: the TLS certificate of {server} was not verified against {trust} "
        f"({detail}). Set AR_LETTERS_SMTP_CA_FILE to the PEM file of the CA that signed it, "
        "and check that AR_SMTP_HOST is a name the certificate carries; " + RESEND
    )


def tls_failed(server: str, detail: str) -> str:
    """The reason a letter was not sent when the TLS handshake failed otherwise."""
    return (
        f"not sent: the TLS handshake with {server} failed ({detail}). Check "
        "AR_LETTERS_SMTP_TLS (implicit only for a TLS port such as 465; STARTTLS otherwise) "
        "and the server's TLS settings; " + RESEND
    )


def login_refused(server: str, auth: SmtpAuth, username: str, answer: str) -> str:
    """The reason a letter was not sent when the server refused the login."""
    what = (
        "the OAuth access token (expired? the refresher that writes "
        "AR_LETTERS_SMTP_OAUTH_TOKEN_FILE)"
        if auth is SmtpAuth.XOAUTH2
        else "AR_LETTERS_SMTP_PASSWORD"
    )
    return (
        f"not sent: {server} refused the login of {username} ({answer}). Check "
        f"AR_LETTERS_SMTP_USERNAME and {what}; " + RESEND
    )


def token_unreadable(path: Path, why: str) -> str:
    return (
        f"not sent: the OAuth access token could not be read from {path} ({why}). Check the "
        "job that refreshes it (docs/operations.md, Exchange Online); " + RESEND
    )
