"""Process settings, read from the environment (prefix ``AR_``) once per process.

One flat class: add a field with a default and a description, and it can be set as
``AR_<FIELD_NAME>``. Never log a ``Settings`` object directly: use :meth:`Settings.redacted`.
"""

from __future__ import annotations

import functools
import re
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from contracts.topics import TopicSpec

MASK = "***"
_SECRET_NAME = re.compile(r"password|secret|token|api_?key", re.IGNORECASE)


class Settings(BaseSettings):
    """Everything a service needs to find its servers and to log."""

    model_config = SettingsConfigDict(env_prefix="AR_", extra="ignore", frozen=True)

    kafka_bootstrap: str = Field(
        default="127.0.0.1:19092",
        description="Kafka bootstrap servers, host:port[,host:port...]",
    )
    database_url: str = Field(
        default="postgresql://annual_review:annual_review@127.0.0.1:15432/annual_review",
        description="PostgreSQL DSN (libpq URL) of the read-model database",
    )
    topic_prefix: str = Field(
        default="",
        pattern=r"^[A-Za-z0-9._-]{0,40}$",
        description="Prefix of every topic name (environments and tests share a cluster)",
    )
    smtp_host: str = Field(default="127.0.0.1", description="SMTP server host for letters")
    smtp_port: int = Field(default=2525, ge=1, le=65535, description="SMTP server port")
    log_level: str = Field(default="INFO", description="Log level: DEBUG, INFO, WARNING, ERROR")
    log_format: Literal["auto", "json", "console"] = Field(
        default="auto",
        description="auto: console renderer on a terminal, JSON lines otherwise",
    )

    def topic(self, spec: TopicSpec) -> str:
        """The full name of a topic declared in contracts.topics."""
        return self.topic_prefix + spec.name

    def redacted(self) -> dict[str, Any]:
        """The settings as a dict that is safe to log: passwords in URLs and secret-named
        or ``SecretStr`` fields are masked."""
        out: dict[str, Any] = {}
        for name, value in self:
            if isinstance(value, SecretStr) or (_SECRET_NAME.search(name) and value):
                out[name] = MASK
            elif isinstance(value, str):
                out[name] = redact_url(value)
            else:
                out[name] = value
        return out


def redact_url(value: str) -> str:
    """Mask the password of a URL such as ``postgresql://user:pw@host/db``; other strings
    come back unchanged."""
    if "://" not in value or "@" not in value:
        return value
    try:
        parts = urlsplit(value)
        password = parts.password
    except ValueError:
        return value
    if not password:
        return value
    userinfo, _, hostinfo = parts.netloc.rpartition("@")
    user = userinfo.split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:{MASK}@{hostinfo}"))


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (read once; ``get_settings.cache_clear()`` in tests)."""
    return Settings()
