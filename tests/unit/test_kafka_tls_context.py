"""The Kafka TLS settings: a verifying context for SSL and SASL_SSL, nothing for the others,
in every client's arguments (aiokafka and FastStream), and a refusal naming the setting when
a file is wrong (no servers needed)."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from faststream.security import BaseSecurity, SASLScram512

from services.platform.kafka.security import faststream_security, sasl_kwargs
from services.platform.kafka.tls import KafkaTlsError, ssl_context, ssl_kwargs
from services.platform.settings import KafkaProtocol, Settings


@pytest.mark.parametrize("protocol", ["PLAINTEXT", "SASL_PLAINTEXT"])
def test_no_context_without_tls(protocol: KafkaProtocol) -> None:
    settings = Settings(
        kafka_security_protocol=protocol, kafka_ssl_ca_file=Path("/nonexistent/ca.crt")
    )
    assert ssl_kwargs(settings) == {}
    assert "ssl_context" not in sasl_kwargs(settings)


@pytest.mark.parametrize("protocol", ["SSL", "SASL_SSL"])
def test_tls_protocols_get_a_context_that_verifies_the_broker_and_its_name(
    protocol: KafkaProtocol,
) -> None:
    (context,) = ssl_kwargs(Settings(kafka_security_protocol=protocol)).values()
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.check_hostname is True


def test_sasl_ssl_clients_log_in_inside_tls() -> None:
    settings = Settings(
        kafka_security_protocol="SASL_SSL", kafka_username="projector", kafka_password="pw"
    )
    kwargs = sasl_kwargs(settings)
    assert kwargs["security_protocol"] == "SASL_SSL"
    assert kwargs["sasl_plain_username"] == "projector"
    assert isinstance(kwargs["ssl_context"], ssl.SSLContext)
    security = faststream_security(settings)
    assert isinstance(security, SASLScram512)
    assert security.use_ssl and isinstance(security.ssl_context, ssl.SSLContext)


def test_ssl_clients_send_no_sasl_user_even_when_a_principal_has_one() -> None:
    settings = Settings(
        kafka_security_protocol="SSL", kafka_username="projector", kafka_password="pw"
    )
    kwargs = sasl_kwargs(settings)
    assert set(kwargs) == {"security_protocol", "ssl_context"}
    assert kwargs["security_protocol"] == "SSL"
    security = faststream_security(settings)
    assert type(security) is BaseSecurity
    assert security.use_ssl and isinstance(security.ssl_context, ssl.SSLContext)


def test_the_settings_are_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AR_KAFKA_SSL_CA_FILE", str(tmp_path / "ca.crt"))
    monkeypatch.setenv("AR_KAFKA_SSL_KEY_PASSWORD", "s3cret")
    settings = Settings()
    assert settings.kafka_ssl_ca_file == tmp_path / "ca.crt"
    assert settings.kafka_ssl_key_password is not None
    assert "s3cret" not in repr(settings)
    assert settings.redacted()["kafka_ssl_key_password"] == "***"


def test_a_missing_file_is_refused_naming_its_setting(tmp_path: Path) -> None:
    with pytest.raises(KafkaTlsError, match=r"AR_KAFKA_SSL_CA_FILE=.*ca\.crt: no such file"):
        ssl_context(Settings(kafka_ssl_ca_file=tmp_path / "ca.crt"))
    with pytest.raises(KafkaTlsError, match=r"AR_KAFKA_SSL_CERT_FILE=.*: no such file"):
        ssl_context(Settings(kafka_ssl_cert_file=tmp_path / "client.crt"))
    # Building a client says the same: the context is made with its arguments.
    with pytest.raises(KafkaTlsError, match="AR_KAFKA_SSL_CA_FILE"):
        sasl_kwargs(
            Settings(kafka_security_protocol="SASL_SSL", kafka_ssl_ca_file=tmp_path / "ca.crt")
        )


def test_a_key_without_a_certificate_is_refused(tmp_path: Path) -> None:
    key = tmp_path / "client.key"
    key.write_text("not used")
    with pytest.raises(KafkaTlsError, match="KEY_FILE is set without AR_KAFKA_SSL_CERT_FILE"):
        ssl_context(Settings(kafka_ssl_key_file=key))


def test_a_file_that_is_not_a_certificate_is_refused(tmp_path: Path) -> None:
    ca = tmp_path / "ca.crt"
    ca.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    with pytest.raises(KafkaTlsError, match="cannot load the TLS files"):
        ssl_context(Settings(kafka_ssl_ca_file=ca))
