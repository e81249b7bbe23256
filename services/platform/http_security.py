"""What every web application of the project sends and checks, whatever it serves: the
security headers on every response, and the refusal to run as the wrong database role.

The public site (services/web/) and the office workspace (services/office/) differ in their
Content-Security-Policy, their referrer policy and their caching; the rest is the same, and
is written once here so that a header added for one is added for both.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Sequence

import asyncpg
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.platform.db import Conn, connect_pool
from services.platform.settings import Settings, redact_url

HSTS = (b"strict-transport-security", b"max-age=31536000")


def security_headers(
    *, referrer_policy: str, permissions_policy: str
) -> tuple[tuple[bytes, bytes], ...]:
    return (
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", referrer_policy.encode()),
        (b"permissions-policy", permissions_policy.encode()),
        (b"cross-origin-opener-policy", b"same-origin"),
        (b"cross-origin-resource-policy", b"same-origin"),
    )


class SecurityHeaders:
    """Adds ``headers`` to every response that did not set them itself (pure ASGI: no
    per-request task, unlike Starlette's BaseHTTPMiddleware); a route may set its own
    Content-Security-Policy. ``cache_control``: the policy of responses that set none
    (the workspace's pages are the staff's: not stored)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        headers: Sequence[tuple[bytes, bytes]],
        csp: str,
        hsts: bool,
        cache_control: str | None = None,
    ) -> None:
        self.app = app
        self.headers = [
            *headers,
            (b"content-security-policy", csp.encode()),
            *([HSTS] if hsts else []),
            *([(b"cache-control", cache_control.encode())] if cache_control else []),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                headers += [h for h in self.headers if h[0] not in names]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


class WrongDatabaseRole(Exception):
    """A web application's database connection is not its own role: run as the owner it
    could read (or change) far more than its job needs."""

    def __init__(self, service: str, role: str, expected: str, principal: str, why: str) -> None:
        self.role = role
        super().__init__(
            f"{service} connects to PostgreSQL as role {role!r}, not {expected!r}: it must "
            f"run as its own principal, which {why}. Set AR_PRINCIPAL={principal} (with "
            f"AR_SECRETS_DIR), or an AR_DATABASE_URL whose user is {expected}"
        )


async def check_database_role(
    conn: Conn, *, service: str, expected: str, principal: str, why: str
) -> None:
    """Refuse (``WrongDatabaseRole``) a connection that is not ``expected``."""
    role = await conn.fetchval("SELECT current_user")
    if role != expected:
        raise WrongDatabaseRole(service, str(role), expected, principal, why)


# How `serve web` / `serve office` end when they will not start: the wrong configuration
# (role, secret), or no database.
EXIT_WRONG_ROLE = 2
EXIT_NO_DATABASE = 3


def check_database_or_exit(settings: Settings, check: Callable[[Conn], Awaitable[None]]) -> None:
    """Before serving: one connection, ``check`` its role; exit with a message (no
    traceback) when it is the wrong role or PostgreSQL cannot be reached."""

    async def checked() -> None:
        pool = await connect_pool(settings, min_size=1, max_size=1)
        try:
            async with pool.acquire() as conn:
                await check(conn)
        finally:
            await pool.close()

    try:
        asyncio.run(checked())
    except WrongDatabaseRole as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(EXIT_WRONG_ROLE) from None
    except (OSError, asyncpg.PostgresError) as e:
        print(
            f"error: cannot reach PostgreSQL at {redact_url(settings.database_url)} "
            f"({type(e).__name__}: {e})",
            file=sys.stderr,
        )
        raise SystemExit(EXIT_NO_DATABASE) from None
