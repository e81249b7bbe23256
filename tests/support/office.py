"""The office workspace on the real servers, signed in through the real Keycloak
(infra/keycloak/keycloak.sh; `make up` starts it): a throw-away namespace (its own database
and topics), the workspace as a process running as principal ``office``, and a sign-in by
HTTP that fills Keycloak's own login form, as a browser would."""

from __future__ import annotations

import html
import os
import re
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

import httpx
import pytest
import pytest_asyncio

from services.platform.namespace import service_env
from services.platform.settings import Settings
from tests.support.stack import Service, Stack, close_stack, open_stack

REPO = Path(__file__).resolve().parents[2]
KEYCLOAK_PORT = int(os.environ.get("KEYCLOAK_PORT", "18080"))
# The port Keycloak's realm was imported with as the redirect address (keycloak.sh).
OFFICE_PORT = int(os.environ.get("AR_OFFICE_PORT", "8090"))
REALM_URL = f"http://127.0.0.1:{KEYCLOAK_PORT}/realms/annual-review-office"
METADATA_URL = f"{REALM_URL}/.well-known/openid-configuration"
USERS = ("author", "approver", "approver2", "dataofficer", "viewer")


def password(user: str, settings: Settings) -> str:
    assert settings.secrets_dir is not None
    return (settings.secrets_dir / f"keycloak-{user}.password").read_text().strip()


def keycloak_answers() -> bool:
    try:
        with urllib.request.urlopen(METADATA_URL, timeout=2) as r:
            return bool(r.status == 200)
    except (OSError, urllib.error.URLError):
        return False


def ensure_keycloak() -> None:
    """Keycloak running (started here when `make up` has not, e.g. AR_KEYCLOAK=0)."""
    if keycloak_answers():
        return
    subprocess.run([str(REPO / "infra/keycloak/keycloak.sh"), "start"], check=True, cwd=REPO)


@dataclass
class Office:
    stack: Stack
    service: Service
    base_url: str

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, follow_redirects=False, timeout=20)

    def sign_in(self, client: httpx.Client, user: str, next_path: str = "/") -> httpx.Response:
        """Sign ``user`` in through Keycloak's login form; returns the callback's answer."""
        start = client.get("/sign-in", params={"next": next_path})
        assert start.status_code in (302, 303, 307), start.text[:500]
        provider = httpx.Client(follow_redirects=False, timeout=20)
        with provider:
            form = provider.get(start.headers["location"])
            assert form.status_code == 200, form.text[:500]
            found = re.search(r'<form[^>]*id="kc-form-login"[^>]*action="([^"]+)"', form.text)
            assert found, form.text[:800]
            action = html.unescape(found[1])
            # Keycloak's sign-in cookies are Secure; a browser sends them to a loopback
            # http:// address (a secure context), httpx does not: send them by hand.
            jar = "; ".join(f"{c.name}={c.value}" for c in provider.cookies.jar)
            done = provider.post(
                urljoin(str(form.url), action),
                data={"username": user, "password": password(user, self.stack.settings)},
                headers={"cookie": jar},
            )
        assert done.status_code in (302, 303), done.text[:800]
        callback = done.headers["location"]
        assert callback.startswith(self.base_url + "/auth/callback"), callback
        return client.get(callback.removeprefix(self.base_url))


def start_office(stack: Stack, port: int, **env: str) -> Service:
    office = stack.start(
        "services.office",
        **{
            **service_env(stack.settings, "office"),
            "AR_OFFICE_PORT": str(port),
            "AR_OFFICE_BASE_URL": f"http://127.0.0.1:{port}",
            "AR_OFFICE_OIDC_METADATA_URL": METADATA_URL,
            "AR_OFFICE_INSECURE_COOKIES": "true",
            **env,
        },
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/live", timeout=2) as r:
                if r.status == 200:
                    return office
        except (OSError, urllib.error.URLError):
            pass
        if not office.alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the office workspace did not start:\n{office.tail()}")
        time.sleep(0.2)


@pytest_asyncio.fixture(scope="module")
async def office(
    settings: Settings, kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Office]:
    ensure_keycloak()
    stack = await open_stack(settings, tmp_path_factory.mktemp("office"))
    try:
        # The proofs jobs write into the test's own folder (AR_OFFICE_PROOFS_DIR).
        service = start_office(
            stack, OFFICE_PORT, AR_OFFICE_PROOFS_DIR=str(stack.workdir / "proofs")
        )
        yield Office(stack, service, f"http://127.0.0.1:{OFFICE_PORT}")
    finally:
        await close_stack(stack, settings)
