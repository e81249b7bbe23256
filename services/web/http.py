"""HTTP details shared by every route: the site's security headers and conditional responses."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

from starlette.requests import Request
from starlette.responses import Response

from services.platform.http_security import security_headers

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
SITE_HEADERS = security_headers(
    referrer_policy="strict-origin-when-cross-origin",
    permissions_policy="camera=(), microphone=(), geolocation=(), interest-cohort=()",
)


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
