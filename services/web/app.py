"""``annual-review serve web``: the public site, "Your council's performance".

Read-only: it connects as the web's own PostgreSQL role (principal ``web``, role ar_web),
which can read the ``publication.web_*`` views and nothing else, so nothing of a year is
served before the publication job has published it. It refuses to start as any other role
(``check_web_role``): run as the owner it could read every letter and e-mail address, and
nothing in its own code would notice.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit

import structlog
import uvicorn
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from services.platform.db import Conn, connect_pool
from services.platform.http_security import (
    SecurityHeaders,
    check_database_or_exit,
    check_database_role,
)
from services.platform.migrations import ensure_migrated
from services.platform.settings import DATABASE_ROLES, Settings, get_settings
from services.web import api, map_page, pages
from services.web.config import WebSettings, get_web_settings
from services.web.content import load_content
from services.web.http import SITE_CSP, SITE_HEADERS
from services.web.site import Site

log = structlog.get_logger(__name__)
STATIC_DIR = Path(__file__).resolve().with_name("static")
WEB_ROLE = DATABASE_ROLES["web"]


async def check_web_role(conn: Conn) -> None:
    """Refuse (``WrongDatabaseRole``) a connection that is not the web's role."""
    await check_database_role(
        conn,
        service="the web site",
        expected=WEB_ROLE,
        principal="web",
        why="can read only what is published",
    )


def create_app(settings: Settings | None = None, web: WebSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    web = web or get_web_settings()
    content = load_content(web.content_dir)  # a missing text stops the site here

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = await connect_pool(settings, min_size=1, max_size=web.pool_max)
        try:
            async with pool.acquire() as conn:
                await check_web_role(conn)  # serve() has said why; this is the backstop
                await ensure_migrated(conn)
            app.state.site = Site(pool, content, web.refresh_s, web.page_cache)
            await app.state.site.catalogue()
            log.info("web site ready", base_url=web.base_url)
            yield
        finally:
            await pool.close()

    app = FastAPI(
        title="Your council's performance",
        summary="The Ombudsman's Annual Review figures of every council, as published",
        version="1",
        docs_url=None,  # Swagger UI and ReDoc load scripts from elsewhere: not under our CSP
        redoc_url=None,
        openapi_url="/api/openapi.json",
        lifespan=lifespan,
    )
    app.state.web_settings = web
    app.state.path_prefix = urlsplit(web.base_url).path.rstrip("/")
    app.include_router(pages.router)
    app.include_router(map_page.router)
    app.include_router(api.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/health/live", include_in_schema=False)
    async def live() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/health/ready", include_in_schema=False)
    @app.get("/health", include_in_schema=False)
    async def ready(request: Request) -> Response:
        site: Site = request.app.state.site
        ok = site.loaded and await site.ready()
        return JSONResponse(
            {"status": "ok" if ok else "unavailable", "database": ok},
            status_code=200 if ok else 503,
            headers={"cache-control": "no-store"},
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)
        if exc.status_code == 404:
            return await pages.not_found(request, "There is no page at this address.")
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        return JSONResponse({"detail": "invalid request"}, status_code=400)

    return app


def asgi(settings: Settings | None = None, web: WebSettings | None = None) -> SecurityHeaders:
    """The site with its security headers: what the server runs."""
    web = web or get_web_settings()
    return SecurityHeaders(
        create_app(settings, web),
        headers=SITE_HEADERS,
        csp=SITE_CSP,
        hsts=web.base_url.startswith("https://"),
    )


def serve(settings: Settings | None = None, web: WebSettings | None = None) -> None:
    """Run the site; first check, with one connection, that it is the web's role, and exit
    with a message (no traceback) when it is not or when PostgreSQL cannot be reached."""
    settings = settings or get_settings()
    web = web or get_web_settings()
    check_database_or_exit(settings, check_web_role)
    uvicorn.run(
        asgi(settings, web),
        host=web.host,
        port=web.port,
        log_level="warning",
        access_log=False,
        server_header=False,
        proxy_headers=False,
    )
