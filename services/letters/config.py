"""Letter service settings (environment, prefix ``AR_LETTERS_``)."""

from __future__ import annotations

import functools

from pydantic import Field
from pydantic_settings import SettingsConfigDict

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
    smtp_username: str | None = Field(default=None, description="SMTP AUTH user (optional)")
    smtp_password: str | None = Field(default=None, description="SMTP AUTH password (secret)")
    smtp_starttls: bool = Field(default=False, description="Use STARTTLS")
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


@functools.lru_cache(maxsize=1)
def get_letters_settings() -> LettersSettings:
    return LettersSettings()
