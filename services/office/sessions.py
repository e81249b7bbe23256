"""Server-side sessions: the cookie holds a random id only; what the session knows (the
sign-in's pending state, then the user, roles, CSRF token) is a row of ``office.sessions``,
stored under the sha256 of the id.

``SessionMiddleware`` (pure ASGI) loads the session before the route runs and puts its data
at ``scope["session"]`` (where Authlib's Starlette client keeps the OpenID state, nonce and
PKCE verifier), and saves it when the response starts: a new id when the route asked for one
(sign-in: the id a browser had before is never the signed-in one), none when the session was
ended (sign-out, timeouts). A session unused for ``idle_s``, or older than ``absolute_s``
since sign-in, is deleted when next seen: the route then finds no user and sends the browser
to sign in.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.cookies import SimpleCookie
from typing import Any

import asyncpg
from starlette.types import ASGIApp, Message, Receive, Scope, Send

ID_BYTES = 32
# A browser that started a sign-in but never came back: its pending row goes after this.
PENDING_MAX_S = 600


def new_id() -> str:
    return secrets.token_urlsafe(ID_BYTES)


def id_hash(session_id: str) -> bytes:
    return hashlib.sha256(session_id.encode()).digest()


def expiry(
    now: datetime,
    *,
    created_at: datetime,
    last_seen_at: datetime,
    signed_in_at: datetime | None,
    idle_s: int,
    absolute_s: int,
) -> str | None:
    """Why a session has ended at ``now`` ("idle", "absolute"), or None while it holds."""
    if now - last_seen_at > timedelta(seconds=idle_s):
        return "idle"
    start, limit = (signed_in_at, absolute_s) if signed_in_at else (created_at, PENDING_MAX_S)
    if now - start > timedelta(seconds=limit):
        return "absolute"
    return None


@dataclass(slots=True)
class SessionState:
    """One request's view of its session; routes change it through the methods."""

    session_id: str | None
    data: dict[str, Any]
    signed_in_at: datetime | None = None
    ended: str | None = None  # why the session this cookie named has ended (timeouts)
    rotate: bool = False
    end: bool = False
    original: str = field(default="")

    def sign_in(self, data: dict[str, Any]) -> None:
        """The user is signed in: a new id, the pending state dropped, ``data`` kept."""
        self.data.clear()
        self.data.update(data)
        self.rotate = True

    def sign_out(self) -> None:
        self.data.clear()
        self.end = True


class SessionStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def load(self, session_id: str) -> asyncpg.Record | None:
        async with self.pool.acquire() as conn:
            row: asyncpg.Record | None = await conn.fetchrow(
                "SELECT data, created_at, last_seen_at, signed_in_at, now() AS now "
                "FROM office.sessions WHERE id_hash = $1",
                id_hash(session_id),
            )
            return row

    async def save(
        self, session_id: str, data: dict[str, Any], *, signed_in: bool, replaces: str | None
    ) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            if replaces is not None and replaces != session_id:
                await conn.execute(
                    "DELETE FROM office.sessions WHERE id_hash = $1", id_hash(replaces)
                )
            await conn.execute(
                "INSERT INTO office.sessions AS s (id_hash, data, subject, signed_in_at) "
                "VALUES ($1, $2::jsonb, $3, CASE WHEN $4 THEN now() END) "
                "ON CONFLICT (id_hash) DO UPDATE SET data = EXCLUDED.data, "
                "subject = EXCLUDED.subject, last_seen_at = now()",
                id_hash(session_id), json.dumps(data), data.get("sub"), signed_in,
            )  # fmt: skip

    async def touch(self, session_id: str) -> None:
        async with self.pool.acquire() as conn:
            await conn.execute(
                "UPDATE office.sessions SET last_seen_at = now() WHERE id_hash = $1",
                id_hash(session_id),
            )

    async def delete(self, session_id: str) -> None:
        async with self.pool.acquire() as conn:
            await conn.execute(
                "DELETE FROM office.sessions WHERE id_hash = $1", id_hash(session_id)
            )

    async def delete_expired(self, idle_s: int, absolute_s: int) -> int:
        async with self.pool.acquire() as conn:
            done: str = await conn.execute(
                "DELETE FROM office.sessions "
                "WHERE last_seen_at < now() - make_interval(secs => $1) "
                "OR signed_in_at < now() - make_interval(secs => $2) "
                "OR (signed_in_at IS NULL AND created_at < now() - make_interval(secs => $3))",
                float(idle_s), float(absolute_s), float(PENDING_MAX_S),
            )  # fmt: skip
            return int(done.split()[-1])


@dataclass(frozen=True, slots=True)
class CookiePolicy:
    name: str
    secure: bool
    absolute_s: int

    def set(self, value: str) -> bytes:
        # SameSite=Lax, not Strict: the provider's redirect back to /auth/callback is a
        # top-level GET from another site, and must carry the pending sign-in's cookie.
        parts = [f"{self.name}={value}", "Path=/", "HttpOnly", "SameSite=Lax"]
        parts.append(f"Max-Age={self.absolute_s}")
        if self.secure:
            parts.append("Secure")
        return "; ".join(parts).encode("latin-1")

    def clear(self) -> bytes:
        parts = [f"{self.name}=", "Path=/", "HttpOnly", "SameSite=Lax", "Max-Age=0"]
        if self.secure:
            parts.append("Secure")
        return "; ".join(parts).encode("latin-1")


class SessionMiddleware:
    def __init__(self, app: ASGIApp, *, cookie: CookiePolicy, idle_s: int, absolute_s: int) -> None:
        self.app = app
        self.cookie = cookie
        self.idle_s = idle_s
        self.absolute_s = absolute_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Added with app.add_middleware: Starlette has put the app in the scope by now.
        store: SessionStore = scope["app"].state.sessions
        state = await self._load(store, _cookie(scope, self.cookie.name))
        scope["session"] = state.data
        scope["office.session"] = state

        async def save_then_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                header = await self._save(store, state)
                if header is not None:
                    message["headers"] = [*message.get("headers", []), (b"set-cookie", header)]
            await send(message)

        await self.app(scope, receive, save_then_send)

    async def _load(self, store: SessionStore, session_id: str | None) -> SessionState:
        if not session_id:
            return SessionState(None, {})
        row = await store.load(session_id)
        if row is None:
            return SessionState(None, {}, ended="unknown")
        why = expiry(
            row["now"],
            created_at=row["created_at"],
            last_seen_at=row["last_seen_at"],
            signed_in_at=row["signed_in_at"],
            idle_s=self.idle_s,
            absolute_s=self.absolute_s,
        )
        if why is not None:
            await store.delete(session_id)
            return SessionState(None, {}, ended=why)
        data = json.loads(row["data"]) if isinstance(row["data"], str) else dict(row["data"])
        return SessionState(
            session_id, data, signed_in_at=row["signed_in_at"], original=json.dumps(data)
        )

    async def _save(self, store: SessionStore, state: SessionState) -> bytes | None:
        if state.end:
            if state.session_id:
                await store.delete(state.session_id)
            return self.cookie.clear()
        if state.rotate:
            fresh = new_id()
            await store.save(fresh, state.data, signed_in=True, replaces=state.session_id)
            return self.cookie.set(fresh)
        if state.session_id is None:
            if not state.data:
                # No session, nothing to keep: no row, no cookie (a stale one is cleared).
                return self.cookie.clear() if state.ended else None
            fresh = new_id()  # a pending sign-in (Authlib's state): a row before sign-in
            await store.save(fresh, state.data, signed_in=False, replaces=None)
            return self.cookie.set(fresh)
        if json.dumps(state.data) != state.original:
            await store.save(state.session_id, state.data, signed_in=False, replaces=None)
        else:
            await store.touch(state.session_id)
        return None


def _cookie(scope: Scope, name: str) -> str | None:
    for key, value in scope.get("headers", []):
        if key == b"cookie":
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except Exception:
                return None
            if name in jar:
                return jar[name].value
    return None
