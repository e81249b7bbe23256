"""Where the project's Kafka clients connect and how long they wait before they report a
failure: one place, from the settings.

``bootstrap_servers``: FastStream's ``KafkaBroker`` takes a string as ONE address, so a
cluster's "host:port,host:port" list must be given to it split (aiokafka splits it itself).

aiokafka's defaults wait 40 s per request and keep metadata for 5 minutes, so a client found
a new partition leader late. The project's clients take ``AR_KAFKA_REQUEST_TIMEOUT_MS`` and
``AR_KAFKA_METADATA_MAX_AGE_MS``; the publishers add their own delivery timeout
(publisher.py: the idempotent producer never expires a record) (docs/operations.md,
"Losing brokers").

    AIOKafkaProducer(**client_kwargs(settings), **client_timeouts(settings))
    KafkaBroker(bootstrap_servers(settings), **client_timeouts(settings), ...)
"""

from __future__ import annotations

from typing import TypedDict

from services.platform.settings import Settings


class ClientTimeouts(TypedDict):
    """Keyword arguments of aiokafka's clients and FastStream's ``KafkaBroker``."""

    request_timeout_ms: int
    metadata_max_age_ms: int


def bootstrap_servers(settings: Settings) -> list[str]:
    """Every address of ``AR_KAFKA_BOOTSTRAP``, one per item."""
    return [address.strip() for address in settings.kafka_bootstrap.split(",")]


def client_timeouts(settings: Settings) -> ClientTimeouts:
    """``request_timeout_ms`` and ``metadata_max_age_ms`` for aiokafka's clients and
    FastStream's ``KafkaBroker``."""
    return ClientTimeouts(
        request_timeout_ms=settings.kafka_request_timeout_ms,
        metadata_max_age_ms=settings.kafka_metadata_max_age_ms,
    )
