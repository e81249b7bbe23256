"""How every Kafka client of the project authenticates: one place, from the settings.

Without ``AR_KAFKA_USERNAME`` (and no ``AR_PRINCIPAL``) the clients connect without
authentication (PLAINTEXT), as before; with a user, SASL (SCRAM-SHA-512 by default) over
``AR_KAFKA_SECURITY_PROTOCOL`` (SASL_PLAINTEXT by default). See docs/security.md.

    AIOKafkaConsumer(topic, **client_kwargs(settings), group_id=...)
    AIOKafkaProducer(bootstrap_servers=..., **sasl_kwargs(settings))
    KafkaBroker(settings.kafka_bootstrap, security=faststream_security(settings))
"""

from __future__ import annotations

from typing import Any

from faststream.security import (
    BaseSecurity,
    SASLPlaintext,
    SASLScram256,
    SASLScram512,
)

from services.platform.settings import Settings, get_settings


def sasl_kwargs(settings: Settings) -> dict[str, Any]:
    """The aiokafka keyword arguments that authenticate as the settings' user (empty
    without one: the client's defaults, PLAINTEXT)."""
    if not settings.kafka_username:
        if settings.kafka_security_protocol not in (None, "PLAINTEXT"):
            return {"security_protocol": settings.kafka_security_protocol}
        return {}
    password = settings.kafka_password.get_secret_value() if settings.kafka_password else ""
    return {
        "security_protocol": settings.kafka_protocol,
        "sasl_mechanism": settings.kafka_sasl_mechanism,
        "sasl_plain_username": settings.kafka_username,
        "sasl_plain_password": password,
    }


def client_kwargs(settings: Settings) -> dict[str, Any]:
    """``bootstrap_servers`` and the authentication: everything a client needs to connect."""
    return {"bootstrap_servers": settings.kafka_bootstrap, **sasl_kwargs(settings)}


def process_sasl_kwargs() -> dict[str, Any]:
    """The authentication of this process's own settings (the AR_* environment): for the
    helpers that are given only a bootstrap address."""
    return sasl_kwargs(get_settings())


def faststream_security(settings: Settings) -> BaseSecurity | None:
    """The ``security=`` object of a FastStream ``KafkaBroker`` (None without a user)."""
    if not settings.kafka_username:
        return None
    password = settings.kafka_password.get_secret_value() if settings.kafka_password else ""
    use_ssl = settings.kafka_protocol in ("SASL_SSL", "SSL")
    kinds: dict[str, type[SASLPlaintext | SASLScram256 | SASLScram512]] = {
        "SCRAM-SHA-512": SASLScram512,
        "SCRAM-SHA-256": SASLScram256,
        "PLAIN": SASLPlaintext,
    }
    return kinds[settings.kafka_sasl_mechanism](settings.kafka_username, password, use_ssl=use_ssl)
