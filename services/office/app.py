"""``annual-review serve office``: the office workspace, for the Ombudsman's staff.

Apart from the public site in everything: its own port (AR_OFFICE_PORT, 8090), its own
PostgreSQL role (ar_office: reads the read models, the letters' states and the publication
records; writes only its sessions) and Kafka principal (``office``: reads the facts topic's
ends and the narratives). It refuses to start as another role. Every page needs a signed-in
user whose role allows the page's action (services/office/guard.py).
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import structlog
import uvicorn
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from services.office import (
    auth,
    close_pages,
    dead_letter_pages,
    letters_pages,
    narrative_pages,
    pages,
    proof_pages,
)
from services.office.config import OfficeSettings, get_office_settings
from services.office.guard import Refused, SignInNeeded, sign_in_url
from services.office.sessions import CookiePolicy, SessionMiddleware, SessionStore
from services.platform.db import connect_pool
from services.platform.http_security import (
    EXIT_WRONG_ROLE,
    SecurityHeaders,
    check_database_or_exit,
    check_database_role,
    security_headers,
)
from services.platform.migrations import ensure_migrated
from services.platform.settings import DATABASE_ROLES, Settings, get_settings

log = structlog.get_logger(__name__)
STATIC_DIR = Path(__file__).resolve().with_name("static")
OFFICE_ROLE = DATABASE_ROLES["office"]


async def check_office_role(conn: asyncpg.Connection) -> None:
    await check_database_role(
        conn,
        service="the office workspace",
        expected=OFFICE_ROLE,
        principal="office",
        why="reads the read models and writes only its own records",
    )


def create_app(
    settings: Settings | None = None,
    office: OfficeSettings | None = None,
    *,
    check_role: bool = True,
) -> FastAPI:
    """The workspace. ``check_role=False`` is for tests that run it as the database owner in a
    throw-away namespace; ``serve`` always checks."""
    settings = settings or get_settings()
    office = office or get_office_settings()
    client_secret = office.secret(settings.secrets_dir)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = await connect_pool(settings, min_size=1, max_size=office.pool_max)
        try:
            async with pool.acquire() as conn:
                if check_role:
                    await check_office_role(conn)
                await ensure_migrated(conn)
            app.state.pool = pool
            app.state.sessions = SessionStore(pool)
            log.info("office workspace ready", base_url=office.base_url)
            yield
        finally:
            await pool.close()

    app = FastAPI(
        title="Annual Review: the office workspace",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.office = office
    app.state.oauth = auth.oauth_client(office, client_secret)
    app.include_router(pages.router)
    app.include_router(narrative_pages.router)
    app.include_router(proof_pages.router)
    app.include_router(auth.router)
    app.include_router(close_pages.router)
    app.include_router(letters_pages.router)
    app.include_router(dead_letter_pages.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_middleware(
        SessionMiddleware,
        cookie=CookiePolicy(
            office.cookie_name, not office.insecure_cookies, office.session_absolute_s
        ),
        idle_s=office.session_idle_s,
        absolute_s=office.session_absolute_s,
    )

    @app.get("/health/live", include_in_schema=False)
    async def live() -> dict[str, str]:
        return {"status": "ok"}

    @app.exception_handler(SignInNeeded)
    async def to_sign_in(request: Request, exc: SignInNeeded) -> Response:
        return RedirectResponse(sign_in_url(exc.return_to), status_code=303)

    @app.exception_handler(Refused)
    async def refused(request: Request, exc: Refused) -> Response:
        return pages.page(
            request, "refused.html.j2", {"reason": exc.reason}, title="Not allowed",
            status_code=exc.status,
        )  # fmt: skip

    @app.exception_handler(auth.ProviderDown)
    async def provider_down(request: Request, exc: auth.ProviderDown) -> Response:
        log.warning("the identity provider does not answer", error=str(exc)[:200])
        return pages.page(
            request, "provider_down.html.j2", {}, title="Sign-in is unavailable", status_code=503
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        reason = "There is no page at this address." if exc.status_code == 404 else str(exc.detail)
        return pages.page(
            request, "refused.html.j2", {"reason": reason}, title="Not found"
            if exc.status_code == 404 else "Not allowed", status_code=exc.status_code,
        )  # fmt: skip

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        return JSONResponse({"detail": "invalid request"}, status_code=400)

    return app


# Scripts: none today; when one helps it is the site's own file (script-src 'self'), never
# inline. form-action names the provider too: Chromium applies it to the redirect that
# follows the sign-out form (to the provider's end_session_endpoint).
def office_csp(provider_origin: str) -> str:
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        # frame-src and connect-src: the narrative's letter preview (a sandboxed frame with
        # its own policy) and the proofs' progress (static/proofs.js)
        "frame-src 'self'; connect-src 'self'; "
        f"form-action 'self' {provider_origin}; base-uri 'none'; frame-ancestors 'none'"
    )


OFFICE_HEADERS = security_headers(
    referrer_policy="same-origin", permissions_policy="camera=(), microphone=(), geolocation=()"
)


def asgi(
    settings: Settings | None = None,
    office: OfficeSettings | None = None,
    *,
    check_role: bool = True,
) -> SecurityHeaders:
    office = office or get_office_settings()
    parts = urlsplit(office.oidc_metadata_url)
    return SecurityHeaders(
        create_app(settings, office, check_role=check_role),
        headers=OFFICE_HEADERS,
        csp=office_csp(f"{parts.scheme}://{parts.netloc}"),
        hsts=office.base_url.startswith("https://"),
        # The workspace's pages are the staff's: a response that sets no policy is not stored.
        cache_control="no-store",
    )


def serve(settings: Settings | None = None, office: OfficeSettings | None = None) -> None:
    settings = settings or get_settings()
    office = office or get_office_settings()
    check_database_or_exit(settings, check_office_role)
    try:
        app = asgi(settings, office)
    except ValueError as e:  # no client secret
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(EXIT_WRONG_ROLE) from None
    uvicorn.run(
        app,
        host=office.host,
        port=office.port,
        log_level="warning",
        access_log=False,
        server_header=False,
        # TLS ends at the reverse proxy (docs/office.md): it sets X-Forwarded-Proto; only
        # the proxy's address is trusted for it (uvicorn's FORWARDED_ALLOW_IPS, loopback).
        proxy_headers=True,
    )
