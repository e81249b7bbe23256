"""Settings from the environment, their redaction, and the logging set-up built on them."""

from __future__ import annotations

import io
import json
import logging
import os

import pytest
import structlog
from pydantic import ValidationError

from services.platform.logging import configure_logging
from services.platform.settings import Settings, get_settings, redact_url


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("AR_"):
            monkeypatch.delenv(name)


def test_defaults_point_at_the_project_local_servers() -> None:
    s = Settings()

    assert s.kafka_bootstrap == "127.0.0.1:19092"
    assert (
        s.database_url == "postgresql://annual_review:annual_review@127.0.0.1:15432/annual_review"
    )
    assert (s.smtp_host, s.smtp_port) == ("127.0.0.1", 2525)
    assert (s.log_level, s.log_format) == ("INFO", "auto")


def test_environment_variables_with_the_ar_prefix_override_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AR_KAFKA_BOOTSTRAP", "127.0.0.1:29092")
    monkeypatch.setenv("AR_SMTP_PORT", "1025")
    monkeypatch.setenv("AR_LOG_FORMAT", "json")
    monkeypatch.setenv("KAFKA_BOOTSTRAP", "ignored-without-prefix:1")

    s = Settings()

    assert (s.kafka_bootstrap, s.smtp_port, s.log_format) == ("127.0.0.1:29092", 1025, "json")


def test_an_unknown_log_format_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AR_LOG_FORMAT", "xml")

    with pytest.raises(ValidationError):
        Settings()


def test_every_field_is_described() -> None:
    assert all(f.description for f in Settings.model_fields.values())


def test_redacted_masks_the_database_password_and_keeps_the_rest() -> None:
    s = Settings(database_url="postgresql://ar:s3cret@db.example:5432/ar?sslmode=require")

    shown = s.redacted()

    assert shown["database_url"] == "postgresql://ar:***@db.example:5432/ar?sslmode=require"
    assert "s3cret" not in json.dumps(shown)
    assert shown["kafka_bootstrap"] == s.kafka_bootstrap


def test_redacted_masks_fields_named_like_secrets() -> None:
    class WithSecret(Settings):
        smtp_password: str = "hunter2"

    assert WithSecret().redacted()["smtp_password"] == "***"


@pytest.mark.parametrize(
    "value",
    ["127.0.0.1:19092", "postgresql://ar@host/db", "not a url @ all", "https://example.org/a@b"],
)
def test_strings_without_a_password_are_unchanged(value: str) -> None:
    assert redact_url(value) == value


def test_get_settings_is_read_once() -> None:
    get_settings.cache_clear()
    try:
        assert get_settings() is get_settings()
    finally:
        get_settings.cache_clear()


def test_json_logs_carry_bound_context_and_quiet_libraries_only_warn() -> None:
    out = io.StringIO()
    configure_logging(Settings(log_format="json", log_level="DEBUG"), stream=out)
    try:
        with structlog.contextvars.bound_contextvars(topic="casework.facts", partition=3, offset=7):
            structlog.get_logger("test").info("applied", council="E07000223")
            logging.getLogger("aiokafka.consumer").info("rebalance chatter")
            logging.getLogger("aiokafka.consumer").warning("heartbeat failed")

        lines = [json.loads(line) for line in out.getvalue().splitlines()]
        assert [line["event"] for line in lines] == ["applied", "heartbeat failed"]
        assert lines[0] | {"topic": "casework.facts", "partition": 3, "offset": 7} == lines[0]
        assert lines[0]["council"] == "E07000223"
        assert "message" not in lines[1]  # the stdlib message is the event, once
        assert (lines[1]["level"], lines[1]["logger"], lines[1]["offset"]) == (
            "warning",
            "aiokafka.consumer",
            7,
        )
    finally:
        configure_logging(Settings())


def test_console_format_is_not_json() -> None:
    out = io.StringIO()
    configure_logging(Settings(log_format="console"), stream=out)
    try:
        structlog.get_logger("test").warning("plain", n=1)
        text = out.getvalue()
        assert "plain" in text
        assert not text.lstrip().startswith("{")
    finally:
        configure_logging(Settings())
