"""Process settings, read from the environment (prefix ``AR_``) once per process.

One flat class: add a field with a default and a description, and it can be set as
``AR_<FIELD_NAME>``. Never log a ``Settings`` object directly: use :meth:`Settings.redacted`.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Annotated, Any, Literal, get_args
from urllib.parse import quote, urlsplit, urlunsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from contracts.topics import TopicSpec

MASK = "***"
_SECRET_NAME = re.compile(r"password|secret|token|api_?key", re.IGNORECASE)

KafkaProtocol = Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL", "SSL"]
Principal = Literal[
    "admin", "cms", "projector", "letters", "operator", "web", "publication", "office"
]
# Each principal's PostgreSQL login role (the case management system has none).
DATABASE_ROLES: dict[str, str] = {
    "admin": "annual_review",
    "projector": "ar_projector",
    "letters": "ar_letters",
    "operator": "ar_operator",
    "web": "ar_web",
    "publication": "ar_publication",
    "office": "ar_office",
}
# Principals without a Kafka user: the public web site and the publication job use
# PostgreSQL only.
WITHOUT_KAFKA: frozenset[str] = frozenset({"web", "publication"})


class Settings(BaseSettings):
    """Everything a service needs to find its servers and to log."""

    model_config = SettingsConfigDict(env_prefix="AR_", extra="ignore", frozen=True)

    # The patterns refuse a value no server could be found at before anything starts: an
    # empty bootstrap made a service retry ":9092" for ever, a mysql:// URL failed deep in
    # asyncpg (docs/cli.md, exit code 2).
    kafka_bootstrap: str = Field(
        default="127.0.0.1:19092",
        pattern=r"^[^\s,]+:\d{1,5}(,[^\s,]+:\d{1,5})*$",
        description="Kafka bootstrap servers, host:port[,host:port...]",
    )
    database_url: str = Field(
        default="postgresql://annual_review:annual_review@127.0.0.1:15432/annual_review",
        pattern=r"^postgres(ql)?://",
        description="PostgreSQL DSN (libpq URL, postgresql://...) of the read-model database",
    )
    topic_prefix: str = Field(
        default="",
        pattern=r"^[A-Za-z0-9._-]{0,40}$",
        description="Prefix of every topic name (environments and tests share a cluster)",
    )
    decisions_host: str = Field(
        default="www.lgo.org.uk",
        pattern=r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$",
        description="The host of the Ombudsman's site where decision statements are published: "
        "a decision's published_url must be https:// on it (producers and the projector "
        "refuse any other; the public site links only to it). The contracts read "
        "AR_DECISIONS_HOST themselves; it is listed here to be documented and checked",
    )
    smtp_host: str = Field(default="127.0.0.1", description="SMTP server host for letters")
    smtp_port: int = Field(default=2525, ge=1, le=65535, description="SMTP server port")
    log_level: str = Field(
        default="INFO",
        # Any case (debug works); checked here so that a typo is refused with the others.
        pattern=r"(?i)^(DEBUG|INFO|WARNING|ERROR|CRITICAL)$",
        description="Log level: DEBUG, INFO, WARNING, ERROR, CRITICAL",
    )
    log_format: Literal["auto", "json", "console"] = Field(
        default="auto",
        description="auto: console renderer on a terminal, JSON lines otherwise",
    )
    kafka_username: str | None = Field(
        default=None,
        description="Kafka SASL user; unset: no authentication (PLAINTEXT)",
    )
    kafka_password: SecretStr | None = Field(default=None, description="Kafka SASL password")
    kafka_security_protocol: KafkaProtocol | None = Field(
        default=None,
        description="Kafka security protocol; unset: SASL_PLAINTEXT with a user, else "
        "PLAINTEXT. SSL and SASL_SSL read AR_KAFKA_SSL_* (docs/security.md)",
    )
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = Field(
        default="SCRAM-SHA-512", description="Kafka SASL mechanism"
    )
    kafka_ssl_ca_file: Path | None = Field(
        default=None,
        description="TLS (SSL, SASL_SSL): PEM file of the CA certificate(s) that signed the "
        "brokers' certificates; unset: the system's trust store",
    )
    kafka_ssl_cert_file: Path | None = Field(
        default=None,
        description="TLS: PEM client certificate (and chain), for a broker that authenticates "
        "clients by certificate (SSL)",
    )
    kafka_ssl_key_file: Path | None = Field(
        default=None,
        description="TLS: PEM private key of the client certificate; unset: in "
        "AR_KAFKA_SSL_CERT_FILE",
    )
    kafka_ssl_key_password: SecretStr | None = Field(
        default=None, description="TLS: password of an encrypted private key"
    )
    kafka_partitioner: Literal["murmur2", "crc32"] = Field(
        default="murmur2",
        description="How the project's own producers (the CLI) choose a key's partition: "
        "murmur2 (Java's and aiokafka's) or crc32 (librdkafka's default, consistent_random), "
        "to match the case management system's (docs/integrating.md); the figures are exact "
        "either way",
    )
    # Replication (admin.py creates the topics with these): one broker keeps 1 and 1; a
    # three-broker cluster 3 and 2, so a write survives the loss of any one broker and is
    # refused (not silently kept on one disk) when two are lost (docs/operations.md).
    kafka_replication_factor: int = Field(
        default=1,
        ge=1,
        le=9,
        description="Replicas of each topic's partitions, at creation (infra/ctl.sh sets "
        "min(KAFKA_BROKERS, 3))",
    )
    kafka_min_insync_replicas: int = Field(
        default=1,
        ge=1,
        le=9,
        description="Each topic's min.insync.replicas: replicas that must hold a write before "
        "an acks=all producer is told it is stored (infra/ctl.sh: 2 with 3 replicas, else 1)",
    )
    # Client timeouts: a lost cluster is reported in seconds, not in aiokafka's minutes.
    kafka_request_timeout_ms: int = Field(
        default=15_000,
        ge=1_000,
        description="Kafka clients' request timeout: how long one request (fetch, produce, "
        "metadata, offsets) may take before the client tries another broker or fails",
    )
    kafka_delivery_timeout_ms: int = Field(
        default=30_000,
        ge=1_000,
        description="How long the project's publishers (the CLI, services/platform/kafka/"
        "publisher.py) wait for Kafka to acknowledge a record before failing and saying which "
        "were not acknowledged (the idempotent producer itself never gives up)",
    )
    kafka_metadata_max_age_ms: int = Field(
        default=10_000,
        ge=1_000,
        description="How old the clients' cluster metadata may get before it is refreshed: "
        "how soon a new partition leader is found without an error to prompt it",
    )
    principal: Principal | None = Field(
        default=None,
        description="Run as this principal (admin, cms, projector, letters, operator, web, "
        "publication): its "
        "Kafka user and PostgreSQL role, with passwords read from AR_SECRETS_DIR "
        "(docs/security.md)",
    )
    secrets_dir: Path | None = Field(
        default=None,
        description="Directory of the principals' password files (`make setup` writes "
        ".local/secrets; Docker: /run/secrets)",
    )
    office_signing_key_file: Path | None = Field(
        default=None,
        description="PEM Ed25519 private key the office's publisher signs the year-end close "
        "and the council register with; unset: office-signing.key in AR_SECRETS_DIR when the "
        "principal is operator or admin (docs/security.md)",
    )
    office_public_key_files: Annotated[list[Path], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated PEM Ed25519 public keys the projector trusts for the "
        "office's events (several: key rotation, the office workspace); unset: "
        "office-signing.pub in AR_SECRETS_DIR. None at all: every office event is refused",
    )

    @field_validator("office_public_key_files", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [Path(v.strip()) for v in value.split(",") if v.strip()]
        return value

    @model_validator(mode="before")
    @classmethod
    def _credentials_of_the_principal(cls, data: Any) -> Any:
        """With ``principal`` and ``secrets_dir``: the principal's Kafka user and password,
        and its PostgreSQL role and password in ``database_url`` (host and database kept).
        Explicit credentials win: an AR_KAFKA_USERNAME, or an AR_DATABASE_URL that carries a
        password, is used as given."""
        if not isinstance(data, dict):
            return data
        out = {k: v for k, v in data.items() if k not in ("principal", "secrets_dir") or v}
        principal, secrets = out.get("principal"), out.get("secrets_dir")
        if principal not in get_args(Principal) or not secrets:
            return out  # no principal, or an invalid one the field's validation reports
        url = str(out.get("database_url") or cls.model_fields["database_url"].default)
        found = principal_credentials(str(principal), Path(str(secrets)), url)
        if out.get("kafka_username"):
            found.pop("kafka_username", None)
            found.pop("kafka_password", None)
        if _has_password(url):
            found.pop("database_url", None)
        return {**out, **found}

    @property
    def kafka_protocol(self) -> str:
        """The effective security protocol (see ``kafka_security_protocol``)."""
        if self.kafka_security_protocol:
            return self.kafka_security_protocol
        return "SASL_PLAINTEXT" if self.kafka_username else "PLAINTEXT"

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
            elif isinstance(value, Path):
                out[name] = str(value)
            elif isinstance(value, list):
                out[name] = [str(v) for v in value]
            else:
                out[name] = value
        return out


def principal_credentials(principal: str, secrets_dir: Path, database_url: str) -> dict[str, Any]:
    """The principal's Kafka user and password (when it has one) and, when it has a
    PostgreSQL role, ``database_url`` with that role and its password."""
    found: dict[str, Any] = {}
    if principal not in WITHOUT_KAFKA:
        found["kafka_username"] = principal
        found["kafka_password"] = SecretStr(read_secret(secrets_dir, f"kafka-{principal}"))
    role = DATABASE_ROLES.get(principal)
    if role is not None:
        password = read_secret(secrets_dir, f"pg-{role}")
        found["database_url"] = with_credentials(database_url, role, password)
    return found


def as_principal(settings: Settings, principal: Principal) -> Settings:
    """The same settings, authenticating as ``principal`` (passwords from
    ``settings.secrets_dir``; unchanged when there is none: an unsecured development set-up)."""
    if settings.secrets_dir is None:
        return settings
    found = principal_credentials(principal, settings.secrets_dir, settings.database_url)
    if principal in WITHOUT_KAFKA:  # no Kafka user: not the caller's either
        found |= {"kafka_username": None, "kafka_password": None}
    return settings.model_copy(
        update={**found, "principal": principal, "kafka_sasl_mechanism": "SCRAM-SHA-512"}
    )


def _has_password(url: str) -> bool:
    try:
        return bool(urlsplit(url).password)
    except ValueError:
        return False


def read_secret(secrets_dir: Path, name: str) -> str:
    """The password in ``<secrets_dir>/<name>.password`` (surrounding whitespace removed)."""
    path = secrets_dir / f"{name}.password"
    try:
        value = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ValueError(f"cannot read the secret {path}: {exc.strerror}") from None
    if not value:
        raise ValueError(f"the secret {path} is empty")
    return value


def with_credentials(url: str, user: str, password: str | None) -> str:
    """``url`` with its user (and password, or none) replaced: the host, port, database
    and query are kept."""
    parts = urlsplit(url)
    hostinfo = parts.netloc.rpartition("@")[2]
    userinfo = quote(user, safe="") + (f":{quote(password, safe='')}" if password else "")
    return urlunsplit(parts._replace(netloc=f"{userinfo}@{hostinfo}"))


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
