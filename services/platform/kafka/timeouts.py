"""How long a Kafka client waits before it reports a failure: one place, from the settings.

aiokafka's defaults wait 40 s per request and keep metadata for 5 minutes, so with the
cluster gone a publish hung for minutes and a consumer found a new partition leader late.
The project's clients take ``AR_KAFKA_REQUEST_TIMEOUT_MS`` (a producer's record that is not
acknowledged within it fails: aiokafka's batch time-to-live is the request timeout) and
``AR_KAFKA_METADATA_MAX_AGE_MS`` (docs/operations.md, "Losing brokers").

    AIOKafkaProducer(**client_kwargs(settings), **client_timeouts(settings))
    KafkaBroker(settings.kafka_bootstrap, **client_timeouts(settings), ...)
"""

from __future__ import annotations

from services.platform.settings import Settings


def client_timeouts(settings: Settings) -> dict[str, int]:
    """``request_timeout_ms`` and ``metadata_max_age_ms`` for aiokafka's clients and
    FastStream's ``KafkaBroker``."""
    return {
        "request_timeout_ms": settings.kafka_request_timeout_ms,
        "metadata_max_age_ms": settings.kafka_metadata_max_age_ms,
    }
