"""How every Kafka client of the project authenticates: one place, from the settings.

Without ``AR_KAFKA_USERNAME`` (and no ``AR_PRINCIPAL``) the clients connect without
authentication (PLAINTEXT), as before; with a user, SASL (SCRAM-SHA-512 by default) over
``AR_KAFKA_SECURITY_PROTOCOL`` (SASL_PLAINTEXT by default); ``SASL_SSL`` and ``SSL`` add
the TLS context of tls.py (``SSL``: the client certificate is the login, no SASL user).
See docs/security.md.

    AIOKafkaConsumer(topic, **client_kwargs(settings), group_id=...)
    AIOKafkaProducer(bootstrap_servers=..., **sasl_kwargs(settings))
    KafkaBroker(bootstrap_servers(settings), security=faststream_security(settings))
"""

from __future__ import annotations

from typing import Any

from faststream.security import (
    BaseSecurity,
    SASLPlaintext,
    SASLScram256,
    SASLScram512,
)

from services.platform.kafka.tls import ssl_context, ssl_kwargs, uses_tls
from services.platform.settings import Settings, get_settings


def sasl_kwargs(settings: Settings) -> dict[str, Any]:
    """The aiokafka keyword arguments that authenticate as the settings' user and, with
    ``SSL`` or ``SASL_SSL``, encrypt (``ssl_context``, tls.py). Empty without a user or TLS:
    the client's defaults, PLAINTEXT."""
    protocol = settings.kafka_protocol
    tls = ssl_kwargs(settings)
    if protocol == "SSL":
        # The client certificate (if any) is the login: no SASL user on this protocol.
        return {"security_protocol": "SSL", **tls}
    if not settings.kafka_username:
        return {"security_protocol": protocol, **tls} if protocol != "PLAINTEXT" else {}
    password = settings.kafka_password.get_secret_value() if settings.kafka_password else ""
    return {
        "security_protocol": protocol,
        "sasl_mechanism": settings.kafka_sasl_mechanism,
        "sasl_plain_username": settings.kafka_username,
        "sasl_plain_password": password,
        **tls,
    }


def client_kwargs(settings: Settings) -> dict[str, Any]:
    """``bootstrap_servers``, the authentication and TLS: everything a client needs to connect."""
    return {"bootstrap_servers": settings.kafka_bootstrap, **sasl_kwargs(settings)}


def process_sasl_kwargs() -> dict[str, Any]:
    """The authentication (and TLS) of this process's own settings (the AR_* environment):
    for the helpers that are given only a bootstrap address."""
    return sasl_kwargs(get_settings())


def faststream_security(settings: Settings) -> BaseSecurity | None:
    """The ``security=`` object of a FastStream ``KafkaBroker``: SASL with the user, inside
    TLS for SASL_SSL; TLS alone (``BaseSecurity``) for SSL; None for PLAINTEXT."""
    protocol = settings.kafka_protocol
    context = ssl_context(settings) if uses_tls(settings) else None
    if protocol == "SSL":
        return BaseSecurity(ssl_context=context, use_ssl=True)
    if not settings.kafka_username:
        return None
    password = settings.kafka_password.get_secret_value() if settings.kafka_password else ""
    kinds: dict[str, type[SASLPlaintext | SASLScram256 | SASLScram512]] = {
        "SCRAM-SHA-512": SASLScram512,
        "SCRAM-SHA-256": SASLScram256,
        "PLAIN": SASLPlaintext,
    }
    return kinds[settings.kafka_sasl_mechanism](
        settings.kafka_username, password, ssl_context=context, use_ssl=context is not None
    )
