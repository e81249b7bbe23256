"""The office workspace on the real servers, signed in through the real Keycloak: sessions
(a new id at sign-in, the idle and absolute timeouts, the cookie's flags), CSRF on every
POST, the return address after sign-in, the role check on the server, the database role."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import asyncpg
import httpx
import pytest

from services.office.sessions import id_hash
from services.platform.namespace import service_env
from services.platform.settings import as_principal
from tests.support.office import REALM_URL, REPO, Office, start_office
from tests.support.web import free_port

COOKIE = "ar_office_session"  # AR_OFFICE_INSECURE_COOKIES on loopback: no __Host- prefix
pytestmark = pytest.mark.integration


def signed_in(office: Office, user: str) -> httpx.Client:
    client = office.client()
    answer = office.sign_in(client, user)
    assert answer.status_code == 303 and answer.headers["location"] == "/", answer.text[:500]
    return client


def csrf_of(page: str) -> str:
    marker = 'name="csrf_token" value="'
    start = page.index(marker) + len(marker)
    return page[start : page.index('"', start)]


async def _owner(office: Office) -> asyncpg.Connection:
    return await office.stack.connect()


def test_sign_in_gives_a_new_session_id_and_the_board_shows_the_role(office: Office) -> None:
    client = office.client()
    start = client.get("/sign-in", params={"next": "/"})
    pending = start.cookies.get(COOKIE)
    assert pending, "the pending sign-in keeps its state in a session"
    answer = office.sign_in(client, "approver")
    signed = answer.cookies.get(COOKIE)
    assert signed and signed != pending
    board = client.get("/")
    assert board.status_code == 200
    assert 'id="role">approver</span>' in board.text
    assert "Year board" in board.text


def test_the_cookie_is_httponly_samesite_lax_path_root(office: Office) -> None:
    client = office.client()
    answer = office.sign_in(client, "viewer")
    header = next(v for k, v in answer.headers.multi_items() if k == "set-cookie")
    flags = {f.strip().split("=")[0].lower() for f in header.split(";")[1:]}
    assert {"httponly", "samesite", "path", "max-age"} <= flags
    assert "samesite=lax" in header.lower() and "path=/" in header.lower()
    # The insecure-cookie setting is on for this loopback test only (unit tests check the
    # Secure, __Host- cookie production sends).
    assert "secure" not in flags


def test_an_anonymous_visit_is_sent_to_sign_in_with_its_return_address(office: Office) -> None:
    answer = office.client().get("/")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/sign-in?next=/"


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/x",
        "/\\evil.example",
        "http:/x",
        "javascript:x",
        "/\r\nSet-Cookie:x",
        "relative/path",
    ],
)
def test_an_open_redirect_return_address_is_refused(office: Office, target: str) -> None:
    answer = office.client().get("/sign-in", params={"next": target})
    assert answer.status_code == 400
    assert "location" not in answer.headers
    assert "not a page of this workspace" in answer.text


def test_after_sign_in_the_browser_returns_to_the_local_path_it_asked_for(office: Office) -> None:
    client = office.client()
    answer = office.sign_in(client, "author", next_path="/?from=test")
    assert answer.status_code == 303 and answer.headers["location"] == "/?from=test"


def test_a_post_without_the_csrf_token_is_refused(office: Office) -> None:
    client = signed_in(office, "approver")
    assert client.post("/board/seen", data={}).status_code == 403
    assert client.post("/board/seen", data={"csrf_token": "forged"}).status_code == 403
    assert client.post("/sign-out", data={}).status_code == 403
    token = csrf_of(client.get("/").text)
    ok = client.post("/board/seen", data={"csrf_token": token})
    assert ok.status_code == 303
    assert "Last marked seen at" in client.get("/").text


def test_a_viewer_is_refused_an_action_reserved_for_other_roles(office: Office) -> None:
    client = signed_in(office, "viewer")
    page = client.get("/").text
    assert 'action="/board/seen"' not in page  # not offered...
    token = csrf_of(page)  # (the sign-out form's token)
    answer = client.post("/board/seen", data={"csrf_token": token})
    assert answer.status_code == 403  # ...and refused on the server
    assert "does not allow this" in answer.text
    assert "Last marked seen" not in client.get("/").text


def test_a_post_without_a_session_is_refused(office: Office) -> None:
    assert office.client().post("/board/seen", data={"csrf_token": "x"}).status_code == 401


async def test_a_session_past_its_idle_timeout_is_sent_to_sign_in(office: Office) -> None:
    client = signed_in(office, "dataofficer")
    session_id = client.cookies[COOKIE]
    conn = await _owner(office)
    try:
        await conn.execute(
            "UPDATE office.sessions SET last_seen_at = now() - interval '16 minutes' "
            "WHERE id_hash = $1",
            id_hash(session_id),
        )
        answer = client.get("/")
        assert answer.status_code == 303 and answer.headers["location"] == "/sign-in?next=/"
        gone = await conn.fetchval(
            "SELECT count(*) FROM office.sessions WHERE id_hash = $1", id_hash(session_id)
        )
        assert gone == 0
    finally:
        await conn.close()


async def test_a_session_past_its_absolute_timeout_is_sent_to_sign_in(office: Office) -> None:
    client = signed_in(office, "author")
    conn = await _owner(office)
    try:
        await conn.execute(
            "UPDATE office.sessions SET signed_in_at = now() - interval '9 hours' "
            "WHERE id_hash = $1",
            id_hash(client.cookies[COOKIE]),
        )
    finally:
        await conn.close()
    assert client.get("/").headers["location"] == "/sign-in?next=/"


async def test_the_cookie_holds_only_an_id_and_the_table_only_its_hash(office: Office) -> None:
    client = signed_in(office, "viewer")
    session_id = client.cookies[COOKIE]
    conn = await _owner(office)
    try:
        rows = await conn.fetch("SELECT id_hash, data::text AS data FROM office.sessions")
    finally:
        await conn.close()
    assert all(session_id.encode() != r["id_hash"] for r in rows)
    assert all(session_id not in r["data"] for r in rows)
    assert any(r["id_hash"] == id_hash(session_id) for r in rows)


def test_sign_out_ends_the_session_here_and_at_the_provider(office: Office) -> None:
    client = signed_in(office, "approver2")
    token = csrf_of(client.get("/").text)
    out = client.post("/sign-out", data={"csrf_token": token})
    assert out.status_code == 303
    assert out.headers["location"].startswith(f"{REALM_URL}/protocol/openid-connect/logout?")
    assert "id_token_hint=" in out.headers["location"]
    assert client.get("/").status_code == 303  # the old cookie no longer opens anything


def test_every_response_has_the_security_headers_and_a_csp_without_inline_script(
    office: Office,
) -> None:
    for path in ("/", "/signed-out", "/static/office.css", "/nowhere"):
        headers = office.client().get(path).headers
        csp = headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp
        assert "unsafe-inline" not in csp
        assert headers["x-frame-options"] == "DENY"
        assert headers["x-content-type-options"] == "nosniff"


async def test_serve_office_refuses_to_start_as_another_database_role(office: Office) -> None:
    env = {**service_env(office.stack.settings, "operator"), "AR_OFFICE_PORT": "1"}
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "services.cli", "serve", "office"],
        env={**office.stack.env, **env, "PATH": "/usr/bin:/bin"},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "ar_operator" in done.stderr and "not 'ar_office'" in done.stderr


async def test_ar_office_reads_the_board_and_writes_only_its_sessions_and_decisions(
    office: Office,
) -> None:
    """Its sessions, and the letters' decisions of docs/office.md (a letter's state and note,
    never the letter as rendered: tests/integration/test_access_control.py has the rest)."""
    own = as_principal(office.stack.settings, "office")
    conn = await asyncpg.connect(own.database_url)
    try:
        assert await conn.fetchval("SELECT current_user") == "ar_office"
        await conn.fetch("SELECT state FROM letters.outbox LIMIT 1")
        await conn.fetch("SELECT financial_year FROM publication.published_years LIMIT 1")
        await conn.fetch("SELECT * FROM projection_versions LIMIT 1")
        for statement in (
            "UPDATE letters.outbox SET html_body = 'forged'",
            "UPDATE letters.outbox SET pdf_sha256 = 'forged'",
            "DELETE FROM letters.outbox",
            "DELETE FROM publication.published_years",
            "INSERT INTO projection_versions (version, schema_name) VALUES (99, 'rm_v99')",
            "CREATE TABLE office.mine (id int)",
            "CREATE SCHEMA elsewhere",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(statement)
    finally:
        await conn.close()


def test_when_the_provider_is_down_sign_in_says_so_and_points_at_the_cli(office: Office) -> None:
    port = free_port()
    down = start_office(
        office.stack,
        port,
        AR_OFFICE_OIDC_METADATA_URL=f"http://127.0.0.1:{free_port()}/.well-known/openid-configuration",
    )
    try:
        answer = httpx.get(f"http://127.0.0.1:{port}/sign-in", timeout=30)
        assert answer.status_code == 503
        assert "Sign-in is unavailable" in answer.text
        assert "annual-review status" in answer.text
    finally:
        down.stop()
