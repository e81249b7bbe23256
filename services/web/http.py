"""HTTP details shared by every route: security headers and conditional responses."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# No scripts at all; styles and images from the site itself; no framing; forms post here.
SITE_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
# A letter as sent carries its stylesheet inline (it is also the e-mail's HTML part) and
# its charts as inline SVG: inline styles allowed, still no scripts and nothing from outside.
LETTER_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), interest-cohort=()"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
)


class SecurityHeaders:
    """Adds the security headers to every response (pure ASGI: no per-request task, unlike
    Starlette's BaseHTTPMiddleware). A route may set its own Content-Security-Policy."""

    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        extra = [(b"strict-transport-security", b"max-age=31536000")] if hsts else []
        self.headers = list(SECURITY_HEADERS) + extra

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                headers += [h for h in self.headers if h[0] not in names]
                if b"content-security-policy" not in names:
                    headers.append((b"content-security-policy", SITE_CSP.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


def etag_of(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def not_modified(request: Request, etag: str, last_modified: datetime | None) -> bool:
    """If-None-Match wins over If-Modified-Since (RFC 9110 section 13.2.2)."""
    match = request.headers.get("if-none-match")
    if match is not None:
        tags = {t.strip().removeprefix("W/") for t in match.split(",")}
        return "*" in tags or etag in tags
    since = request.headers.get("if-modified-since")
    if since and last_modified is not None:
        try:
            return last_modified.replace(microsecond=0) <= parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
    return False


def respond(
    request: Request,
    body: bytes,
    media_type: str,
    *,
    etag: str | None = None,
    last_modified: datetime | None = None,
    max_age: int = 60,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    """A full response, or 304 when the client's copy is current."""
    tag = etag or etag_of(body)
    out = {"etag": tag, "cache-control": f"public, max-age={max_age}", **(headers or {})}
    if last_modified is not None:
        out["last-modified"] = format_datetime(last_modified.astimezone(UTC), usegmt=True)
    if status_code == 200 and not_modified(request, tag, last_modified):
        return Response(status_code=304, headers=out)
    return Response(body, status_code=status_code, media_type=media_type, headers=out)
