"""The letter service's SMTP settings and the decisions of services/letters/smtp_policy.py:
which TLS step, when to refuse, and reasons that say what to fix and never a secret."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from services.letters import smtp_client
from services.letters.config import LettersSettings
from services.letters.smtp_policy import (
    CannotSendSafely,
    SmtpAuth,
    TlsMode,
    TlsStep,
    before_auth,
    certificate_not_verified,
    login_refused,
    tls_step,
)

SERVER = "smtp.example:587"


@pytest.fixture(autouse=True)
def _no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The settings below come from the test, not from the shell that runs it."""
    import os

    for name in list(os.environ):
        if name.startswith("AR_LETTERS_SMTP_"):
            monkeypatch.delenv(name)


# --- settings -------------------------------------------------------------------------------


def test_the_defaults_are_opportunistic_tls_without_credentials() -> None:
    s = LettersSettings()
    assert s.smtp_tls is TlsMode.OPPORTUNISTIC
    assert s.smtp_auth is SmtpAuth.PASSWORD
    assert (s.smtp_username, s.smtp_password, s.smtp_ca_file) == (None, None, None)


def test_the_settings_are_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    token = tmp_path / "smtp-oauth.token"
    token.write_text("t0ken\n")
    monkeypatch.setenv("AR_LETTERS_SMTP_TLS", "required")
    monkeypatch.setenv("AR_LETTERS_SMTP_AUTH", "xoauth2")
    monkeypatch.setenv("AR_LETTERS_SMTP_USERNAME", "annual.review@lgo.example")
    monkeypatch.setenv("AR_LETTERS_SMTP_OAUTH_TOKEN_FILE", str(token))
    s = LettersSettings()
    assert (s.smtp_tls, s.smtp_auth, s.smtp_oauth_token_file) == (
        TlsMode.REQUIRED,
        SmtpAuth.XOAUTH2,
        token,
    )


def test_an_unknown_tls_mode_is_refused() -> None:
    with pytest.raises(ValidationError, match="opportunistic"):
        LettersSettings(smtp_tls="starttls")


@pytest.mark.parametrize(
    ("given", "complaint"),
    [
        ({"smtp_username": "u"}, "USERNAME is set without AR_LETTERS_SMTP_PASSWORD"),
        ({"smtp_password": "pw"}, "PASSWORD is set without AR_LETTERS_SMTP_USERNAME"),
        (
            {"smtp_username": "u", "smtp_password": "pw", "smtp_oauth_token_file": "/t"},
            "AR_LETTERS_SMTP_AUTH is password",
        ),
        ({"smtp_auth": "xoauth2", "smtp_oauth_token_file": "/t"}, "needs AR_LETTERS_SMTP_USERNAME"),
        ({"smtp_auth": "xoauth2", "smtp_username": "u"}, "needs AR_LETTERS_SMTP_OAUTH_TOKEN_FILE"),
        (
            {
                "smtp_auth": "xoauth2",
                "smtp_username": "u",
                "smtp_oauth_token_file": "/t",
                "smtp_password": "pw",
            },
            "unset one of them",
        ),
        ({"smtp_ca_file": "/no/such/ca.pem"}, "/no/such/ca.pem is not a file"),
    ],
)
def test_contradictory_smtp_settings_stop_the_start(given: dict[str, str], complaint: str) -> None:
    with pytest.raises(ValidationError, match=complaint):
        LettersSettings(**given)  # type: ignore[arg-type]


def test_the_password_can_come_from_a_file_read_at_start(tmp_path: Path) -> None:
    secret = tmp_path / "smtp.password"
    secret.write_text("from-a-file\n")
    s = LettersSettings(smtp_username="u", smtp_password_file=secret)
    assert s.smtp_password is not None and s.smtp_password.get_secret_value() == "from-a-file"
    with pytest.raises(ValidationError, match="both set"):
        LettersSettings(smtp_username="u", smtp_password="pw", smtp_password_file=secret)
    with pytest.raises(ValidationError, match="cannot read AR_LETTERS_SMTP_PASSWORD_FILE"):
        LettersSettings(smtp_username="u", smtp_password_file=tmp_path / "none")
    secret.write_text("\n")
    with pytest.raises(ValidationError, match="is empty"):
        LettersSettings(smtp_username="u", smtp_password_file=secret)


def test_the_password_is_a_secret_that_a_repr_does_not_show() -> None:
    s = LettersSettings(smtp_username="u", smtp_password="hunter2")
    assert "hunter2" not in repr(s) and "hunter2" not in str(s.model_dump())
    assert s.smtp_password is not None and s.smtp_password.get_secret_value() == "hunter2"


# --- the TLS decision -----------------------------------------------------------------------


@pytest.mark.parametrize("mode", list(TlsMode))
@pytest.mark.parametrize("credentials", [False, True])
def test_an_encrypted_connection_goes_on(mode: TlsMode, credentials: bool) -> None:
    step = tls_step(
        mode, credentials=credentials, offers_starttls=False, encrypted=True, server=SERVER
    )
    assert step is TlsStep.ENCRYPTED


@pytest.mark.parametrize("mode", [TlsMode.OPPORTUNISTIC, TlsMode.REQUIRED])
@pytest.mark.parametrize("credentials", [False, True])
def test_starttls_is_used_whenever_the_server_offers_it(mode: TlsMode, credentials: bool) -> None:
    step = tls_step(
        mode, credentials=credentials, offers_starttls=True, encrypted=False, server=SERVER
    )
    assert step is TlsStep.STARTTLS


def test_opportunistic_without_credentials_goes_on_in_clear_text_when_no_tls_is_offered() -> None:
    step = tls_step(
        TlsMode.OPPORTUNISTIC,
        credentials=False,
        offers_starttls=False,
        encrypted=False,
        server=SERVER,
    )
    assert step is TlsStep.CLEAR


def test_credentials_make_tls_required_even_when_opportunistic() -> None:
    with pytest.raises(CannotSendSafely) as refused:
        tls_step(
            TlsMode.OPPORTUNISTIC,
            credentials=True,
            offers_starttls=False,
            encrypted=False,
            server=SERVER,
        )
    reason = refused.value.reason
    assert "smtp.example:587 does not offer STARTTLS" in reason
    assert "never sent in clear text" in reason
    assert "AR_LETTERS_SMTP_TLS=implicit" in reason and "letters resend" in reason


def test_required_refuses_a_server_without_starttls_even_without_credentials() -> None:
    with pytest.raises(CannotSendSafely, match="AR_LETTERS_SMTP_TLS=required"):
        tls_step(
            TlsMode.REQUIRED,
            credentials=False,
            offers_starttls=False,
            encrypted=False,
            server=SERVER,
        )


def test_implicit_never_goes_on_unencrypted() -> None:
    with pytest.raises(CannotSendSafely, match="not encrypted"):
        tls_step(
            TlsMode.IMPLICIT,
            credentials=False,
            offers_starttls=True,
            encrypted=False,
            server=SERVER,
        )


# --- before AUTH ----------------------------------------------------------------------------


def test_auth_is_refused_outside_tls_whatever_the_server_offers() -> None:
    with pytest.raises(CannotSendSafely, match="AUTH never goes in clear text"):
        before_auth(SmtpAuth.PASSWORD, encrypted=False, offered=["plain", "login"], server=SERVER)


def test_auth_goes_ahead_inside_tls_with_a_mechanism_offered() -> None:
    before_auth(SmtpAuth.PASSWORD, encrypted=True, offered=["login"], server=SERVER)
    before_auth(SmtpAuth.XOAUTH2, encrypted=True, offered=["LOGIN", "xoauth2"], server=SERVER)


def test_xoauth2_not_offered_says_which_mechanisms_are_and_what_to_set() -> None:
    with pytest.raises(CannotSendSafely) as refused:
        before_auth(SmtpAuth.XOAUTH2, encrypted=True, offered=["plain", "login"], server=SERVER)
    assert "does not offer AUTH XOAUTH2 (it offers: LOGIN, PLAIN)" in refused.value.reason
    assert "AR_LETTERS_SMTP_AUTH=password" in refused.value.reason


def test_no_auth_offered_points_at_the_submission_port() -> None:
    with pytest.raises(CannotSendSafely, match=r"offers: none.*submission port"):
        before_auth(SmtpAuth.PASSWORD, encrypted=True, offered=[], server=SERVER)


# --- reasons --------------------------------------------------------------------------------


def test_a_certificate_reason_names_the_trust_used_and_the_setting_to_fix() -> None:
    system = certificate_not_verified(SERVER, "self-signed certificate", None)
    own = certificate_not_verified(SERVER, "unable to get local issuer", Path("/etc/ca.pem"))
    assert "the system's CAs" in system and "self-signed certificate" in system
    assert "the CA file /etc/ca.pem" in own
    for reason in (system, own):
        assert "AR_LETTERS_SMTP_CA_FILE" in reason and "letters resend" in reason


def test_a_refused_login_names_what_to_check_and_not_the_secret() -> None:
    reason = login_refused(SERVER, SmtpAuth.XOAUTH2, "ar@lgo.example", "535 5.7.3 failed")
    assert "ar@lgo.example" in reason and "535 5.7.3" in reason and "expired" in reason


def test_the_token_is_read_stripped_and_a_missing_or_empty_file_is_a_reason(
    tmp_path: Path,
) -> None:
    token = tmp_path / "token"
    token.write_text("  eyJ0eXAi.abc \n")
    assert smtp_client.read_token(token) == "eyJ0eXAi.abc"
    token.write_text("\n")
    with pytest.raises(CannotSendSafely, match="the file is empty"):
        smtp_client.read_token(token)
    with pytest.raises(CannotSendSafely, match=r"could not be read from .*missing"):
        smtp_client.read_token(tmp_path / "missing")


def test_the_tls_context_verifies_certificates_and_names(tmp_path: Path) -> None:
    import ssl

    context = smtp_client.tls_context(None)
    assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2
