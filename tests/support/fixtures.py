"""Fixtures for tests on the real, project-local servers (`make up`), registered for every
test folder by tests/conftest.py.

When a server does not answer, the tests FAIL (not skip) with "run `make up` first": an
integration suite that silently skips proves nothing. ``stack`` gives a test its own
namespace (a fresh database and topic prefix) to run the services in; ``mail`` a real SMTP
server for the letter service.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio

from services.letters.smtp_server import start as start_smtp
from services.platform.kafka.admin import wait_for_kafka
from services.platform.settings import Settings, redact_url
from tests.support.mail import Mail, free_port
from tests.support.stack import Stack, close_stack, open_stack

CONNECT_WAIT_S = 10.0


@pytest.fixture(scope="session")
def settings() -> Settings:
    """Settings from the environment (the Makefile exports AR_* to match its ports)."""
    return Settings()


@pytest_asyncio.fixture(scope="session")
async def pg_pool(settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    try:
        pool = await asyncio.wait_for(
            asyncpg.create_pool(settings.database_url, min_size=1, max_size=5),
            CONNECT_WAIT_S,
        )
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.fail(
            f"PostgreSQL at {redact_url(settings.database_url)} is not reachable"
            f" ({type(exc).__name__}: {exc}): run `make up` first",
            pytrace=False,
        )
    try:
        yield pool
    finally:
        await pool.close()


@pytest_asyncio.fixture(scope="session")
async def kafka_bootstrap(settings: Settings) -> str:
    try:
        await wait_for_kafka(settings.kafka_bootstrap, wait_s=CONNECT_WAIT_S)
    except TimeoutError as exc:
        pytest.fail(
            f"Kafka at {settings.kafka_bootstrap} is not reachable ({exc}): run `make up` first",
            pytrace=False,
        )
    return settings.kafka_bootstrap


@pytest_asyncio.fixture
async def stack(settings: Settings, kafka_bootstrap: str, tmp_path: Path) -> AsyncIterator[Stack]:
    s = await open_stack(settings, tmp_path)
    try:
        yield s
    finally:
        await close_stack(s, settings)


@pytest.fixture
def mail(tmp_path: Path) -> Iterator[Mail]:
    """A real SMTP server on loopback, storing what it accepts in a Maildir."""
    port = free_port()
    controller, _ = start_smtp(tmp_path / "maildir", port=port)
    try:
        yield Mail(tmp_path / "maildir", port)
    finally:
        controller.stop()
