"""Letter service settings (environment, prefix ``AR_LETTERS_``)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from services.letters.smtp_policy import SmtpAuth, TlsMode, settings_problems
from services.platform.health import HealthSettings, metrics_port_field


class LettersSettings(HealthSettings):
    model_config = SettingsConfigDict(env_prefix="AR_LETTERS_", extra="ignore", frozen=True)

    group_id: str = Field(default="letters", description="Kafka consumer group")
    session_timeout_ms: int = Field(
        default=10_000, ge=6_000, description="Kafka group session timeout of the letter service"
    )
    sender: str = Field(
        default="Annual Review <annual.review@lgo.example>", description="From: address"
    )
    reply_to: str | None = Field(default=None, description="Reply-To: address")
    cc: list[str] = Field(default_factory=list, description="Copy recipients (JSON list)")
    bcc: list[str] = Field(
        default_factory=list,
        description="Blind copies (JSON list), e.g. an archive mailbox for reconciliation",
    )
    message_id_domain: str = Field(default="lgo.example", description="Message-ID domain")
    reconcile_maildir: str | None = Field(
        default=None,
        description="Maildir holding a copy of every accepted message (the archive mailbox); "
        "used after a crash to tell whether a letter in 'sending' went. Unset: such letters "
        "become 'uncertain' for an operator to decide.",
    )
    smtp_timeout_s: float = Field(default=30.0, description="SMTP conversation timeout")
    smtp_tls: TlsMode = Field(
        default=TlsMode.OPPORTUNISTIC,
        description="TLS to the SMTP server: opportunistic (STARTTLS whenever the server offers "
        "it; required as soon as credentials are set), required (STARTTLS always: a server "
        "that does not offer it gets nothing), implicit (TLS from the first byte, port 465). "
        "The certificate is always verified, and AUTH never goes over plain text",
    )
    smtp_ca_file: Path | None = Field(
        default=None,
        description="PEM file of the CA certificate(s) that verify the SMTP server's "
        "certificate; unset: the system's trust store",
    )
    smtp_auth: SmtpAuth = Field(
        default=SmtpAuth.PASSWORD,
        description="How to log in when AR_LETTERS_SMTP_USERNAME is set: password (AUTH "
        "PLAIN/LOGIN with AR_LETTERS_SMTP_PASSWORD) or xoauth2 (an OAuth 2.0 access token "
        "read from AR_LETTERS_SMTP_OAUTH_TOKEN_FILE at every connection: Exchange Online)",
    )
    smtp_username: str | None = Field(
        default=None, description="SMTP AUTH user; unset: no AUTH (a relay that trusts the host)"
    )
    smtp_password: SecretStr | None = Field(
        default=None, description="SMTP AUTH password (secret; AR_LETTERS_SMTP_AUTH=password)"
    )
    smtp_password_file: Path | None = Field(
        default=None,
        description="File holding the SMTP AUTH password, read at start (a Docker secret, or a "
        "file in AR_SECRETS_DIR): instead of AR_LETTERS_SMTP_PASSWORD, which it must not "
        "accompany",
    )
    smtp_oauth_token_file: Path | None = Field(
        default=None,
        description="AR_LETTERS_SMTP_AUTH=xoauth2: file holding the current OAuth 2.0 access "
        "token, rewritten by whatever refreshes it (docs/operations.md); never logged",
    )
    max_attempts: int = Field(
        default=8, ge=1, description="Transient SMTP failures before 'failed'"
    )
    retry_base_s: float = Field(default=1.0, description="First retry delay; doubles each time")
    send_concurrency: int = Field(default=8, ge=1, description="SMTP sends in flight")
    render_workers: int = Field(
        default=2, ge=0, description="Processes rendering PDFs (0: render in the service)"
    )
    snapshot_wait_s: float = Field(
        default=3600.0, description="How long a close waits for the projector's snapshot"
    )
    close_max_age_days: int = Field(
        default=30,
        description="A year-end close older than this is not turned into letters "
        "automatically (a new deployment reading old closes must not mail every council)",
    )
    poll_interval_s: float = Field(default=0.2, description="Dispatcher idle poll interval")
    metrics_port: int = metrics_port_field(9109)
    health_max_lag_seconds: float = Field(
        default=300.0,
        gt=0,
        description="/health/ready fails when year-end closes or due letters wait and nothing "
        "(a close handled, a letter rendered, sent or refused) was done for this long",
    )

    @model_validator(mode="before")
    @classmethod
    def _password_from_its_file(cls, data: Any) -> Any:
        """AR_LETTERS_SMTP_PASSWORD_FILE: the password read from it once, at start (so an
        unreadable file stops the start, not every letter)."""
        if not isinstance(data, dict) or not data.get("smtp_password_file"):
            return data
        if data.get("smtp_password"):
            raise ValueError(
                "AR_LETTERS_SMTP_PASSWORD and AR_LETTERS_SMTP_PASSWORD_FILE are both set: "
                "unset one of them"
            )
        path = Path(str(data["smtp_password_file"]))
        try:
            password = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ValueError(
                f"cannot read AR_LETTERS_SMTP_PASSWORD_FILE {path}: {exc.strerror}"
            ) from None
        if not password:
            raise ValueError(f"AR_LETTERS_SMTP_PASSWORD_FILE {path} is empty")
        return {**data, "smtp_password": password}

    @model_validator(mode="after")
    def _smtp_settings_agree(self) -> Self:
        """Refuse, at start, SMTP settings that contradict each other (a password without a
        user, a token file with password AUTH...): better than every letter failing."""
        problems = settings_problems(
            tls=self.smtp_tls,
            auth=self.smtp_auth,
            username=self.smtp_username,
            has_password=self.smtp_password is not None,
            token_file=self.smtp_oauth_token_file,
        )
        if self.smtp_ca_file is not None and not self.smtp_ca_file.is_file():
            problems.append(f"AR_LETTERS_SMTP_CA_FILE {self.smtp_ca_file} is not a file")
        if problems:
            raise ValueError("; ".join(problems))
        return self


@functools.lru_cache(maxsize=1)
def get_letters_settings() -> LettersSettings:
    return LettersSettings()
