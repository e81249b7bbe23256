"""Probing a service's health server (services/platform/health.py) from a test."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from typing import Any


def get(url: str) -> tuple[int, str]:
    """Status and body of a GET; an HTTP error status is an answer, not an exception."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


async def probe(port: int, path: str) -> tuple[int, Any]:
    """(status, JSON body) of a health path on loopback; raises OSError when nothing listens."""
    status, body = await asyncio.to_thread(get, f"http://127.0.0.1:{port}{path}")
    return status, json.loads(body)


async def metrics(port: int) -> str:
    status, body = await asyncio.to_thread(get, f"http://127.0.0.1:{port}/metrics")
    assert status == 200, body
    return body


async def until_status(port: int, path: str, want: int, timeout: float = 60.0) -> dict[str, Any]:
    """Poll ``path`` until it answers ``want``; its JSON body then."""
    deadline = time.monotonic() + timeout
    last: Any = "no answer"
    while time.monotonic() < deadline:
        try:
            status, last = await probe(port, path)
            if status == want:
                return dict(last)
        except OSError as e:
            last = f"not listening: {e}"
        await asyncio.sleep(0.3)
    raise TimeoutError(f"{path} did not answer {want} within {timeout} s: {last}")


async def until_ready(port: int, timeout: float = 60.0) -> dict[str, Any]:
    return await until_status(port, "/health/ready", 200, timeout)
