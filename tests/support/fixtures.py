"""The ``stack`` fixture: import it into a test module that runs services."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from services.platform.settings import Settings
from tests.support.stack import Stack, close_stack, open_stack


@pytest_asyncio.fixture
async def stack(settings: Settings, kafka_bootstrap: str, tmp_path: Path) -> AsyncIterator[Stack]:
    s = await open_stack(settings, tmp_path)
    try:
        yield s
    finally:
        await close_stack(s, settings)
