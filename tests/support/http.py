"""Probing a service's health server (services/platform/health.py) from a test."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from typing import Any

from tests.support.polling import NotYet, eventually


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
    """Poll ``path`` until it answers ``want``; its JSON body then. Not listening yet, or
    another status, is "not yet"; the timeout shows the last answer."""

    async def answered() -> tuple[dict[str, Any]]:
        status, body = await probe(port, path)
        if status != want:
            raise NotYet(f"answered {status}: {body}")
        return (dict(body),)  # a tuple: an empty body is still an answer

    body: dict[str, Any]
    (body,) = await eventually(
        answered,
        what=f"{path} answering {want}",
        timeout=timeout,
        every=0.3,
        not_yet=(OSError,),
    )
    return body


async def until_ready(port: int, timeout: float = 60.0) -> dict[str, Any]:
    return await until_status(port, "/health/ready", 200, timeout)
