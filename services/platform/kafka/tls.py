"""TLS for the Kafka clients: an ``ssl.SSLContext`` from the ``AR_KAFKA_SSL_*`` settings.

aiokafka (and FastStream on it) needs an explicit ``ssl_context`` for the ``SSL`` and
``SASL_SSL`` security protocols; without one the first client built fails. The context
verifies the broker's certificate and its name (always), against ``AR_KAFKA_SSL_CA_FILE``
or, unset, the system's trust store (a managed Kafka with a public CA); a client
certificate and key are presented when given (a broker that authenticates clients by
certificate, ``SSL``). docs/security.md, "Kafka over TLS". security.py adds the context to
every client's arguments; nothing else needs to call ``ssl_kwargs``.

aiokafka reports a refused certificate only as "Unable to bootstrap"; ``check_broker_tls``
makes the handshake itself and says what is wrong and which setting fixes it. The services
call it at start, the CLI when the broker does not answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from typing import Any

from aiokafka.helpers import create_ssl_context

from services.platform.settings import Settings

TLS_PROTOCOLS = frozenset({"SSL", "SASL_SSL"})


class KafkaTlsError(Exception):
    """A TLS set-up that cannot work, said so that the operator knows what to change."""


def uses_tls(settings: Settings) -> bool:
    return settings.kafka_protocol in TLS_PROTOCOLS


def ssl_context(settings: Settings) -> ssl.SSLContext:
    """A client context: the broker's certificate and host name verified, the client
    certificate loaded when configured. Raises KafkaTlsError naming the setting at fault."""
    ca, cert, key = (
        settings.kafka_ssl_ca_file, settings.kafka_ssl_cert_file, settings.kafka_ssl_key_file
    )  # fmt: skip
    for name, path in (("CA_FILE", ca), ("CERT_FILE", cert), ("KEY_FILE", key)):
        if path is not None and not path.is_file():
            raise KafkaTlsError(f"AR_KAFKA_SSL_{name}={path}: no such file")
    if key is not None and cert is None:
        raise KafkaTlsError("AR_KAFKA_SSL_KEY_FILE is set without AR_KAFKA_SSL_CERT_FILE")
    secret = settings.kafka_ssl_key_password
    try:
        context: ssl.SSLContext = create_ssl_context(
            cafile=ca,
            certfile=cert,
            keyfile=key,
            password=secret.get_secret_value() if secret else None,
        )
    except ssl.SSLError as e:
        raise KafkaTlsError(
            f"cannot load the TLS files (AR_KAFKA_SSL_CA_FILE={ca}, "
            f"AR_KAFKA_SSL_CERT_FILE={cert}, AR_KAFKA_SSL_KEY_FILE={key}): {e.reason or e}"
        ) from None
    except OSError as e:
        raise KafkaTlsError(f"cannot read a TLS file: {e}") from None
    return context


def ssl_kwargs(settings: Settings) -> dict[str, Any]:
    """``{"ssl_context": ...}`` for an aiokafka client when the settings' protocol is SSL or
    SASL_SSL; empty otherwise."""
    return {"ssl_context": ssl_context(settings)} if uses_tls(settings) else {}


async def check_broker_tls(settings: Settings, timeout_s: float = 10.0) -> None:
    """Complete a TLS handshake with every bootstrap address; raise KafkaTlsError saying
    why one fails (an unknown CA, a wrong host name, a client certificate required or
    refused). Nothing to do without TLS; a connection that is refused or times out is left
    to the Kafka client (and to readiness)."""
    if not uses_tls(settings):
        return
    context = ssl_context(settings)
    for address in settings.kafka_bootstrap.split(","):
        host, _, port = address.strip().rpartition(":")
        host = host.strip("[]")
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, int(port), ssl=context, server_hostname=host),
                timeout_s,
            )
        except ssl.SSLCertVerificationError as e:
            raise KafkaTlsError(_unverified(address, e, settings)) from None
        except ssl.SSLError as e:
            raise KafkaTlsError(_refused(address, e, settings)) from None
        except (OSError, TimeoutError):
            continue
        try:
            # TLS 1.3: a broker refuses a client certificate after the handshake, with an
            # alert that arrives on the first read. A broker waiting for a request sends
            # nothing: the read times out, and the connection is good.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(reader.read(1), 0.5)
        except ssl.SSLError as e:
            raise KafkaTlsError(_refused(address, e, settings)) from None
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


def _unverified(address: str, e: ssl.SSLCertVerificationError, settings: Settings) -> str:
    ca = settings.kafka_ssl_ca_file
    trusted = f"the CA in AR_KAFKA_SSL_CA_FILE={ca}" if ca else "the system's CAs"
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


_CERTIFICATE_ALERTS = (
    "CERTIFICATE_REQUIRED",
    "BAD_CERTIFICATE",
    "CERTIFICATE_UNKNOWN",
    "UNKNOWN_CA",
)


def _refused(address: str, e: ssl.SSLError, settings: Settings) -> str:
    reason = str(e.reason or e)
    about_the_certificate = any(alert in reason.upper() for alert in _CERTIFICATE_ALERTS)
    cert = settings.kafka_ssl_cert_file
    if about_the_certificate and cert is None:
        return (
            f"the Kafka broker at {address} requires a client certificate: set "
            f"AR_KAFKA_SSL_CERT_FILE and AR_KAFKA_SSL_KEY_FILE ({reason})"
        )
    if about_the_certificate:
        return (
            f"the Kafka broker at {address} refused the client certificate "
            f"AR_KAFKA_SSL_CERT_FILE={cert} ({reason}): it must be signed by a CA "
            f"the broker trusts"
        )
    return f"the TLS handshake with the Kafka broker at {address} failed: {reason}"
