"""One SMTP conversation that carries one letter, as services/letters/smtp_policy.py allows.

The conversation is driven step by step (connect, EHLO, STARTTLS, EHLO, AUTH, send) rather
than through ``aiosmtplib.send``: its defaults log in over clear text when a server offers
AUTH without TLS, and an error in the closing QUIT, after the server accepted the letter,
must not be taken for a failed send (the letter would be sent again).
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Sequence
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import structlog

from services.letters import smtp_policy as policy
from services.letters.config import LettersSettings
from services.letters.smtp_policy import CannotSendSafely, SmtpAuth, TlsMode, TlsStep

log = structlog.get_logger(__name__)

QUIT_TIMEOUT_S = 5.0


def tls_context(ca_file: Path | None) -> ssl.SSLContext:
    """Verifies the server's certificate and name: against ``ca_file`` only when it is set
    (an organisation's own CA, not every public one), else the system's trust store."""
    context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def read_token(path: Path) -> str:
    """The current OAuth access token: read at every connection, because whatever refreshes
    it rewrites the file (tokens live about an hour). Never logged."""
    try:
        token = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise CannotSendSafely(policy.token_unreadable(path, exc.strerror or str(exc))) from None
    if not token:
        raise CannotSendSafely(policy.token_unreadable(path, "the file is empty"))
    return token


def _tls_error(exc: BaseException) -> ssl.SSLError | None:
    """The TLS error behind an aiosmtplib error (it wraps connection errors), if any."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return None
        if isinstance(seen, ssl.SSLError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


async def send(
    message: EmailMessage,
    *,
    host: str,
    port: int,
    settings: LettersSettings,
    context: ssl.SSLContext,
    then: Sequence[EmailMessage] = (),
) -> str:
    """Send ``message``, then each of ``then`` in the same conversation (the letter's
    copies); the server's answer to the first DATA. Raises :class:`CannotSendSafely` when
    the settings forbid sending to this server (nothing was sent), and aiosmtplib's
    errors or OSError for what the server or the network did."""
    server = f"{host}:{port}"
    client = aiosmtplib.SMTP(
        hostname=host,
        port=port,
        timeout=settings.smtp_timeout_s,
        use_tls=settings.smtp_tls is TlsMode.IMPLICIT,
        start_tls=False,  # decided below, by the policy, after EHLO
        tls_context=context,
    )
    try:
        try:
            await client.connect()
            await client.ehlo()
            step = policy.tls_step(
                settings.smtp_tls,
                credentials=settings.smtp_username is not None,
                offers_starttls=client.supports_extension("starttls"),
                encrypted=client.get_transport_info("sslcontext") is not None,
                server=server,
            )
            if step is TlsStep.STARTTLS:
                await client.starttls()
                await client.ehlo()  # RFC 3207: what the server offered before TLS is void
        except (aiosmtplib.SMTPException, OSError) as exc:
            tls = _tls_error(exc)
            if isinstance(tls, ssl.SSLCertVerificationError):
                detail = tls.verify_message or tls.reason or str(tls)
                raise CannotSendSafely(
                    policy.certificate_not_verified(server, str(detail), settings.smtp_ca_file)
                ) from None
            if tls is not None:
                raise CannotSendSafely(policy.tls_failed(server, tls.reason or str(tls))) from None
            raise
        if settings.smtp_username is not None:
            await _log_in(client, settings, server)
        _, response = await client.send_message(message)
        refused: list[str] = []
        for more in then:
            # The letter itself is accepted: from here it is sent, whatever happens to its
            # copies. A copy refused must not fail the send, or the retry would e-mail the
            # chief executive a second time (a letter is never sent twice; a copy missing is
            # recoverable: docs/operations.md, "The letters' copies").
            try:
                await client.send_message(more)
            except (aiosmtplib.SMTPException, OSError) as exc:
                refused.append(f"{more['Message-ID']}: {str(exc)[:200]}")
                log.warning(
                    "a letter's copies were not accepted; the letter itself was",
                    message_id=str(more["Message-ID"]),
                    error=str(exc)[:200],
                )
        if refused:
            response = f"{response} (copies not accepted: {'; '.join(refused)})"
    finally:
        await _close(client)
    return response


async def _log_in(client: aiosmtplib.SMTP, settings: LettersSettings, server: str) -> None:
    username = settings.smtp_username
    assert username is not None
    policy.before_auth(
        settings.smtp_auth,
        encrypted=client.get_transport_info("sslcontext") is not None,
        offered=client.server_auth_methods,
        server=server,
    )
    try:
        if settings.smtp_auth is SmtpAuth.XOAUTH2:
            assert settings.smtp_oauth_token_file is not None  # the settings' validation
            await client.auth_xoauth2(username, read_token(settings.smtp_oauth_token_file))
        else:
            assert settings.smtp_password is not None  # the settings' validation
            await client.login(username, settings.smtp_password.get_secret_value())
    except aiosmtplib.SMTPAuthenticationError as exc:
        if exc.code < 500:  # 454: a temporary failure of the server's: tried again later
            raise
        raise CannotSendSafely(
            policy.login_refused(server, settings.smtp_auth, username, f"{exc.code} {exc.message}")
        ) from None


async def _close(client: aiosmtplib.SMTP) -> None:
    """QUIT politely; its failure changes nothing (the letter was accepted, or not, before)."""
    if client.is_connected:
        with contextlib.suppress(Exception):
            await client.quit(timeout=QUIT_TIMEOUT_S)
    client.close()
