"""A namespace on the shared servers: its own database and its own topic prefix.

The demo and the tests run the real services in one, so repeated runs never see each
other's events, figures or letters. ``base`` is the administrator's settings (the database
owner, and the Kafka super user on a secured broker): creating a namespace applies the
migrations as the owner and, on a secured broker, gives the principals their ACLs on the
namespace's topics (services/platform/kafka/acls.py); dropping it removes them. Each service
then runs as its own principal: ``service_env(settings, "projector")``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from contracts.topics import TOPICS
from services.platform.kafka import acls
from services.platform.kafka.admin import ensure_topics, open_admin
from services.platform.kafka.security import sasl_kwargs
from services.platform.migrations import apply_migrations
from services.platform.settings import Principal, Settings, with_credentials

_NAME = re.compile(r"^[a-z][a-z0-9_]{2,40}$")


async def create_namespace(base: Settings, name: str) -> Settings:
    """Create database ``name`` (migrated) and topics ``name.*`` with the principals' ACLs;
    return the settings that use them (as ``base``'s identity)."""
    if not _NAME.match(name):
        raise ValueError(f"not a namespace name: {name!r}")
    admin = await asyncpg.connect(base.database_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = urlunsplit(urlsplit(base.database_url)._replace(path=f"/{name}"))
    settings = base.model_copy(update={"database_url": url, "topic_prefix": f"{name}."})
    conn = await asyncpg.connect(url)
    try:
        await apply_migrations(conn)  # as the owner: the services' roles may not
    finally:
        await conn.close()
    auth = sasl_kwargs(settings)
    await ensure_topics(
        settings.kafka_bootstrap,
        [dataclasses.replace(t, name=settings.topic(t)) for t in TOPICS],
        replication_factor=settings.kafka_replication_factor,
        min_insync_replicas=settings.kafka_min_insync_replicas,
        **auth,
    )
    if settings.kafka_username:
        client = await open_admin(settings.kafka_bootstrap, **auth)
        try:
            await acls.grant(client, settings.topic_prefix)
        finally:
            await client.close()
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
    client = await open_admin(base.kafka_bootstrap, **sasl_kwargs(base))
    try:
        # The topics may be gone already; nothing else to do then.
        with contextlib.suppress(Exception):
            await client.delete_topics([settings.topic(t) for t in TOPICS])
        if base.kafka_username:
            await acls.revoke(client, settings.topic_prefix)
    finally:
        await client.close()


def service_env(settings: Settings, principal: Principal | None = None) -> dict[str, str]:
    """The environment that points a service process at this namespace, over the same Kafka
    protocol and TLS files as ``settings``. With a ``principal``, the process authenticates
    as that principal, its passwords read from ``AR_SECRETS_DIR`` (no password in the
    environment); without, as the caller. On ``SSL`` the client certificate is the login:
    give each process its own with AR_KAFKA_SSL_CERT_FILE / AR_KAFKA_SSL_KEY_FILE."""
    prefix = settings.topic_prefix
    env = {
        "AR_DATABASE_URL": settings.database_url,
        "AR_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "AR_TOPIC_PREFIX": prefix,
        "AR_PROJECTOR_GROUP_ID": f"{prefix}projector",
        "AR_LETTERS_GROUP_ID": f"{prefix}letters",
    }
    # TLS as the caller's (the files, never the key's password: a process reads that itself).
    if settings.kafka_security_protocol:
        env["AR_KAFKA_SECURITY_PROTOCOL"] = settings.kafka_security_protocol
    for name in ("kafka_ssl_ca_file", "kafka_ssl_cert_file", "kafka_ssl_key_file"):
        value = getattr(settings, name)
        if value is not None:
            env[f"AR_{name.upper()}"] = str(value)
    if principal is not None and settings.secrets_dir is not None:
        user = urlsplit(settings.database_url).username or ""
        env |= {
            "AR_DATABASE_URL": with_credentials(settings.database_url, user, None),
            "AR_PRINCIPAL": principal,
            "AR_SECRETS_DIR": str(settings.secrets_dir),
            "AR_KAFKA_USERNAME": "",
            "AR_KAFKA_PASSWORD": "",
            "AR_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        }
    return env
