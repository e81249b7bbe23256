"""Is Kafka there? A quick check that the broker answers and the facts topic exists, so that
a newcomer running a command gets one clear sentence (and a hint) instead of a stack trace."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiokafka.errors import KafkaError

from contracts.topics import FACTS, TopicSpec
from services.platform.kafka.admin import open_admin
from services.platform.kafka.publisher import EventPublisher, event_publisher
from services.platform.kafka.security import sasl_kwargs
from services.platform.kafka.tls import KafkaTlsError, check_broker_tls
from services.platform.settings import Settings

PREFLIGHT_SECONDS = 5.0
TLS_HINT = 'see docs/security.md, "Kafka over TLS" (AR_KAFKA_SSL_* settings)'
MAKE_UP = (
    "run `make up` first (it starts Kafka and creates the topics), "
    "or point AR_KAFKA_BOOTSTRAP at a running broker"
)

CLUSTER_HINT = (
    "some brokers of the cluster do not answer: bring them back (docs/operations.md, "
    '"Losing brokers"), then run the command again'
)


class KafkaUnavailable(Exception):
    """Kafka cannot be used: the message says why, ``hint`` what to do."""

    def __init__(self, message: str, hint: str = MAKE_UP) -> None:
        super().__init__(message)
        self.hint = hint


@asynccontextmanager
async def _quiet_aiokafka() -> AsyncIterator[None]:
    # aiokafka logs every failed connection attempt at ERROR; KafkaUnavailable says it once.
    logger = logging.getLogger("aiokafka")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


async def check_topic(settings: Settings, spec: TopicSpec = FACTS) -> int:
    """The topic's partition count; raises KafkaUnavailable when the TLS handshake is
    refused (saying which setting to fix), Kafka does not answer within PREFLIGHT_SECONDS or
    the topic does not exist."""
    bootstrap, name = settings.kafka_bootstrap, settings.topic(spec)
    try:  # aiokafka would say only "Unable to bootstrap" for a wrong CA or certificate
        await check_broker_tls(settings, timeout_s=PREFLIGHT_SECONDS)
    except KafkaTlsError as e:
        raise KafkaUnavailable(str(e), hint=TLS_HINT) from None
    async with _quiet_aiokafka():
        try:
            admin = await open_admin(bootstrap, wait_s=PREFLIGHT_SECONDS, **sasl_kwargs(settings))
        except TimeoutError:
            who = (
                f" or refused user {settings.kafka_username!r} (AR_KAFKA_USERNAME / AR_PRINCIPAL)"
                if settings.kafka_username
                else ""
            )
            raise KafkaUnavailable(
                f"Kafka at {bootstrap} is not reachable{who} "
                f"(no answer within {PREFLIGHT_SECONDS:.0f}s)"
            ) from None
        try:
            described = await admin.describe_topics([name])
        except KafkaError as e:
            # One node answered, another did not: a cluster missing brokers, not a missing one.
            raise KafkaUnavailable(
                f"Kafka at {bootstrap} failed to describe topics: {e}",
                hint=CLUSTER_HINT if "," in bootstrap else MAKE_UP,
            ) from e
        finally:
            await admin.close()
    found = [t for t in described if t.get("topic") == name and not t.get("error_code")]
    if not found or not found[0]["partitions"]:
        raise KafkaUnavailable(
            f"the topic {name} does not exist on Kafka at {bootstrap}",
            hint="run `make up` (or `make topics`) to create the topics",
        )
    return len(found[0]["partitions"])


@asynccontextmanager
async def checked_publisher(settings: Settings) -> AsyncIterator[EventPublisher]:
    """An open EventPublisher on the facts topic, after checking that it can work."""
    await check_topic(settings)
    p = event_publisher(settings)
    try:
        async with _quiet_aiokafka():
            await p.__aenter__()
    except (KafkaError, OSError) as e:
        raise KafkaUnavailable(
            f"could not connect a producer to Kafka at {settings.kafka_bootstrap}: {e}"
        ) from e
    try:
        yield p
    finally:
        await p.__aexit__(None, None, None)
