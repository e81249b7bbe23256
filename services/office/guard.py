"""The checks every route makes on the server, in one dependency: ``allowed(action)``.

- no signed-in session: a GET is sent to sign in (with its own path as the return address),
  anything else is refused (401);
- a signed-in user without a role for the action (services/office/roles.py): 403;
- any method but GET/HEAD: the form's (or header's) CSRF token must equal the session's,
  compared in constant time: 403 otherwise.

``csrf_token(request)`` is what every form renders in its hidden ``csrf_token`` field.
``safe_return(path)`` is the only way a return address is accepted: a local path.
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import parse_qs, quote, urlsplit

from fastapi import Request

from services.office.roles import PERMISSIONS, Action, Role, may
from services.office.sessions import SessionState

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
FORM_TYPE = "application/x-www-form-urlencoded"
MAX_FORM_BYTES = 64 * 1024
SAFE_METHODS = frozenset({"GET", "HEAD"})
# A local path: one leading slash, then no slash or backslash (no //host, no /\host), and
# no control character or whitespace anywhere.
_LOCAL_PATH = re.compile(r"^/(?![/\\])[^\s\x00-\x1f\x7f\\]*$")


@dataclass(frozen=True, slots=True)
class User:
    subject: str
    name: str
    roles: tuple[Role, ...]

    @property
    def roles_label(self) -> str:
        return ", ".join(r.label for r in self.roles)


class SignInNeeded(Exception):
    def __init__(self, return_to: str, ended: str | None) -> None:
        self.return_to = return_to
        self.ended = ended


class Refused(Exception):
    """403 (or 401): the page says why, and nothing was done."""

    def __init__(self, status: int, reason: str) -> None:
        self.status = status
        self.reason = reason


def safe_return(value: str | None) -> str | None:
    """``value`` when it is a local path (``/...``) of this site, else None."""
    if not value or len(value) > 2000 or not _LOCAL_PATH.match(value):
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return None
    return value


def session_of(request: Request) -> SessionState:
    state: SessionState = request.scope["office.session"]
    return state


def current_user(request: Request) -> User | None:
    data = session_of(request).data
    if "sub" not in data:
        return None
    return User(data["sub"], data.get("name") or data["sub"], tuple(Role(r) for r in data["roles"]))


def csrf_token(request: Request) -> str:
    """The session's CSRF token (made at sign-in); every form renders it."""
    data = session_of(request).data
    if "csrf" not in data:
        data["csrf"] = secrets.token_urlsafe(32)
    token: str = data["csrf"]
    return token


async def _check_csrf(request: Request) -> None:
    expected = session_of(request).data.get("csrf")
    given = request.headers.get(CSRF_HEADER)
    if given is None and request.headers.get("content-type", "").startswith(FORM_TYPE):
        # The workspace's forms are URL-encoded (no file uploads): read with the standard
        # library rather than a multipart parser the workspace would not otherwise need.
        body = await request.body()
        if len(body) <= MAX_FORM_BYTES:
            values = parse_qs(body.decode("utf-8", "replace")).get(CSRF_FIELD, [])
            given = values[0] if len(values) == 1 else None
    if not expected or not given or not hmac.compare_digest(given, expected):
        raise Refused(403, "This form has expired or did not come from this workspace.")


def allowed(action: Action) -> Callable[[Request], Awaitable[User]]:
    """The dependency every route declares: the signed-in user, allowed ``action``."""
    assert action in PERMISSIONS, f"{action} has no row in roles.PERMISSIONS"

    async def check(request: Request) -> User:
        user = current_user(request)
        if user is None:
            if request.method in SAFE_METHODS:
                path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                raise SignInNeeded(path, session_of(request).ended)
            raise Refused(401, "You are not signed in.")
        if request.method not in SAFE_METHODS:
            await _check_csrf(request)
        if not may(user.roles, action):
            raise Refused(403, f"Your role ({user.roles_label}) does not allow this.")
        return user

    check.office_action = action  # type: ignore[attr-defined]  # read by the route matrix test
    return check


def sign_in_url(return_to: str) -> str:
    return "/sign-in?next=" + quote(return_to, safe="/")
