"""TLS for the Kafka clients: an ``ssl.SSLContext`` from the ``AR_KAFKA_SSL_*`` settings.

aiokafka (and FastStream on it) needs an explicit ``ssl_context`` for the ``SSL`` and
``SASL_SSL`` security protocols; without one the first client built fails. The context
verifies the broker's certificate and its name (always), against ``AR_KAFKA_SSL_CA_FILE``
or, unset, the system's trust store (a managed Kafka with a public CA); a client
certificate and key are presented when given (a broker that authenticates clients by
certificate, ``SSL``). docs/security.md, "TLS".

    AIOKafkaConsumer(..., **client_kwargs(settings), **ssl_kwargs(settings))
    SASLScram512(user, password, ssl_context=ssl_context(tls_settings()))   # FastStream

aiokafka reports a refused certificate only as "Unable to bootstrap"; ``check_broker_tls``
makes the handshake itself and says what is wrong and which setting fixes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ssl
from pathlib import Path
from typing import Any

from aiokafka.helpers import create_ssl_context
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.platform.settings import Settings

TLS_PROTOCOLS = frozenset({"SSL", "SASL_SSL"})


class KafkaTlsSettings(BaseSettings):
    """The files a TLS connection to Kafka needs (read when the protocol is SSL or SASL_SSL)."""

    model_config = SettingsConfigDict(env_prefix="AR_KAFKA_SSL_", extra="ignore", frozen=True)

    ca_file: Path | None = Field(
        default=None,
        description="PEM file of the CA certificate(s) that signed the brokers' certificates; "
        "unset: the system's trust store",
    )
    cert_file: Path | None = Field(
        default=None,
        description="PEM client certificate (and chain), for a broker that authenticates "
        "clients by certificate (SSL)",
    )
    key_file: Path | None = Field(
        default=None,
        description="PEM private key of the client certificate; unset: in AR_KAFKA_SSL_CERT_FILE",
    )
    key_password: SecretStr | None = Field(
        default=None, description="Password of an encrypted private key"
    )


class KafkaTlsError(Exception):
    """A TLS set-up that cannot work, said so that the operator knows what to change."""


@functools.lru_cache(maxsize=1)
def tls_settings() -> KafkaTlsSettings:
    """The process-wide TLS settings (read once; ``tls_settings.cache_clear()`` in tests)."""
    return KafkaTlsSettings()


def ssl_context(tls: KafkaTlsSettings) -> ssl.SSLContext:
    """A client context: the broker's certificate and host name verified, the client
    certificate loaded when configured. Raises KafkaTlsError naming the setting at fault."""
    for name, path in (("CA_FILE", tls.ca_file), ("CERT_FILE", tls.cert_file),
                       ("KEY_FILE", tls.key_file)):  # fmt: skip
        if path is not None and not path.is_file():
            raise KafkaTlsError(f"AR_KAFKA_SSL_{name}={path}: no such file")
    if tls.key_file is not None and tls.cert_file is None:
        raise KafkaTlsError("AR_KAFKA_SSL_KEY_FILE is set without AR_KAFKA_SSL_CERT_FILE")
    password = tls.key_password.get_secret_value() if tls.key_password else None
    try:
        context: ssl.SSLContext = create_ssl_context(
            cafile=tls.ca_file, certfile=tls.cert_file, keyfile=tls.key_file, password=password
        )
    except ssl.SSLError as e:
        raise KafkaTlsError(
            f"cannot load the TLS files (AR_KAFKA_SSL_CA_FILE={tls.ca_file}, "
            f"AR_KAFKA_SSL_CERT_FILE={tls.cert_file}, AR_KAFKA_SSL_KEY_FILE={tls.key_file}): "
            f"{e.reason or e}"
        ) from None
    except OSError as e:
        raise KafkaTlsError(f"cannot read a TLS file: {e}") from None
    return context


def ssl_kwargs(settings: Settings, tls: KafkaTlsSettings | None = None) -> dict[str, Any]:
    """``{"ssl_context": ...}`` for an aiokafka client when the settings' protocol is SSL or
    SASL_SSL; empty otherwise."""
    if settings.kafka_protocol not in TLS_PROTOCOLS:
        return {}
    return {"ssl_context": ssl_context(tls or tls_settings())}


async def check_broker_tls(
    bootstrap: str, context: ssl.SSLContext, tls: KafkaTlsSettings, timeout_s: float = 10.0
) -> None:
    """Complete a TLS handshake with every bootstrap address; raise KafkaTlsError saying
    why one fails (an unknown CA, a wrong host name, a client certificate required or
    refused). A connection that is refused or times out is left to the Kafka client."""
    for address in bootstrap.split(","):
        host, _, port = address.strip().rpartition(":")
        host = host.strip("[]")
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, int(port), ssl=context, server_hostname=host),
                timeout_s,
            )
        except ssl.SSLCertVerificationError as e:
            raise KafkaTlsError(_unverified(address, e, tls)) from None
        except ssl.SSLError as e:
            raise KafkaTlsError(_refused(address, e, tls)) from None
        except (OSError, TimeoutError):
            continue
        try:
            # TLS 1.3: a broker refuses a client certificate after the handshake, with an
            # alert that arrives on the first read. A broker waiting for a request sends
            # nothing: the read times out, and the connection is good.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(reader.read(1), 0.5)
        except ssl.SSLError as e:
            raise KafkaTlsError(_refused(address, e, tls)) from None
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


def _unverified(address: str, e: ssl.SSLCertVerificationError, tls: KafkaTlsSettings) -> str:
    trusted = f"the CA in AR_KAFKA_SSL_CA_FILE={tls.ca_file}" if tls.ca_file else "the system's CAs"
    what = e.verify_message or e.reason or str(e)
    if "hostname" in what.lower() or "ip address mismatch" in what.lower():
        return (
            f"the Kafka broker at {address} presented a certificate for another name ({what}): "
            f"connect with a host name its certificate names"
        )
    return (
        f"the Kafka broker at {address} presented a certificate that {trusted} did not sign "
        f"({what}): set AR_KAFKA_SSL_CA_FILE to the CA that signed the broker's certificate"
    )


def _refused(address: str, e: ssl.SSLError, tls: KafkaTlsSettings) -> str:
    reason = str(e.reason or e)
    about_the_certificate = any(
        alert in reason.upper()
        for alert in (
            "CERTIFICATE_REQUIRED",
            "BAD_CERTIFICATE",
            "CERTIFICATE_UNKNOWN",
            "UNKNOWN_CA",
        )
    )
    if about_the_certificate and tls.cert_file is None:
        return (
            f"the Kafka broker at {address} requires a client certificate: set "
            f"AR_KAFKA_SSL_CERT_FILE and AR_KAFKA_SSL_KEY_FILE ({reason})"
        )
    if about_the_certificate:
        return (
            f"the Kafka broker at {address} refused the client certificate "
            f"AR_KAFKA_SSL_CERT_FILE={tls.cert_file} ({reason}): it must be signed by a CA "
            f"the broker trusts"
        )
    return f"the TLS handshake with the Kafka broker at {address} failed: {reason}"
