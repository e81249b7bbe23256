"""A namespace on the shared servers: its own database and its own topic prefix.

The demo and the tests run the real services in one, so repeated runs never see each
other's events, figures or letters.
"""

from __future__ import annotations

import dataclasses
import re
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from aiokafka.admin import AIOKafkaAdminClient

from contracts.topics import TOPICS
from services.platform.kafka_admin import ensure_topics
from services.platform.settings import Settings

_NAME = re.compile(r"^[a-z][a-z0-9_]{2,40}$")


async def create_namespace(base: Settings, name: str) -> Settings:
    """Create database ``name`` and topics ``name.*``; return the settings that use them."""
    if not _NAME.match(name):
        raise ValueError(f"not a namespace name: {name!r}")
    admin = await asyncpg.connect(base.database_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = urlunsplit(urlsplit(base.database_url)._replace(path=f"/{name}"))
    settings = base.model_copy(update={"database_url": url, "topic_prefix": f"{name}."})
    await ensure_topics(
        settings.kafka_bootstrap,
        [dataclasses.replace(t, name=settings.topic(t)) for t in TOPICS],
    )
    return settings


async def drop_namespace(base: Settings, settings: Settings) -> None:
    name = urlsplit(settings.database_url).path.lstrip("/")
    if not _NAME.match(name) or not settings.topic_prefix:
        raise ValueError(f"refusing to drop {name!r}: not a namespace")
    admin = await asyncpg.connect(base.database_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()
    client = AIOKafkaAdminClient(bootstrap_servers=base.kafka_bootstrap)
    await client.start()
    try:
        await client.delete_topics([settings.topic(t) for t in TOPICS])
    except Exception:  # noqa: S110 - the topics may be gone already; nothing else to do
        pass
    finally:
        await client.close()


def service_env(settings: Settings) -> dict[str, str]:
    """The environment that points a service process at this namespace."""
    prefix = settings.topic_prefix
    return {
        "AR_DATABASE_URL": settings.database_url,
        "AR_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "AR_TOPIC_PREFIX": prefix,
        "AR_PROJECTOR_GROUP_ID": f"{prefix}projector",
        "AR_LETTERS_GROUP_ID": f"{prefix}letters",
    }
