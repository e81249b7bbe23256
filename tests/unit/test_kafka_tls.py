"""The Kafka TLS settings: a verifying context for SSL and SASL_SSL, nothing for the others,
and a refusal naming the setting when a file is wrong (no servers needed)."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from services.platform.kafka.tls import KafkaTlsError, KafkaTlsSettings, ssl_context, ssl_kwargs
from services.platform.settings import Settings


@pytest.mark.parametrize("protocol", ["PLAINTEXT", "SASL_PLAINTEXT"])
def test_no_context_without_tls(protocol: str) -> None:
    settings = Settings(kafka_security_protocol=protocol)
    assert ssl_kwargs(settings, KafkaTlsSettings(ca_file=Path("/nonexistent/ca.crt"))) == {}


@pytest.mark.parametrize("protocol", ["SSL", "SASL_SSL"])
def test_tls_protocols_get_a_context_that_verifies_the_broker_and_its_name(protocol: str) -> None:
    (context,) = ssl_kwargs(Settings(kafka_security_protocol=protocol), KafkaTlsSettings()).values()
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.check_hostname is True


def test_the_settings_are_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AR_KAFKA_SSL_CA_FILE", str(tmp_path / "ca.crt"))
    monkeypatch.setenv("AR_KAFKA_SSL_KEY_PASSWORD", "s3cret")
    tls = KafkaTlsSettings()
    assert tls.ca_file == tmp_path / "ca.crt"
    assert tls.key_password is not None and "s3cret" not in repr(tls)


def test_a_missing_file_is_refused_naming_its_setting(tmp_path: Path) -> None:
    with pytest.raises(KafkaTlsError, match=r"AR_KAFKA_SSL_CA_FILE=.*ca\.crt: no such file"):
        ssl_context(KafkaTlsSettings(ca_file=tmp_path / "ca.crt"))
    with pytest.raises(KafkaTlsError, match=r"AR_KAFKA_SSL_CERT_FILE=.*: no such file"):
        ssl_context(KafkaTlsSettings(cert_file=tmp_path / "client.crt"))


def test_a_key_without_a_certificate_is_refused(tmp_path: Path) -> None:
    key = tmp_path / "client.key"
    key.write_text("not used")
    with pytest.raises(KafkaTlsError, match="KEY_FILE is set without AR_KAFKA_SSL_CERT_FILE"):
        ssl_context(KafkaTlsSettings(key_file=key))


def test_a_file_that_is_not_a_certificate_is_refused(tmp_path: Path) -> None:
    ca = tmp_path / "ca.crt"
    ca.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    with pytest.raises(KafkaTlsError, match="cannot load the TLS files"):
        ssl_context(KafkaTlsSettings(ca_file=ca))
