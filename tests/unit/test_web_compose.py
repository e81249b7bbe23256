"""docker-compose.yml runs the web site as principal web (role ar_web, its password only,
no Kafka user), published on loopback with a readiness healthcheck, and the publication job
as its own principal (role ar_publication, its password only, no Kafka user)."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from services.platform.settings import Settings, as_principal
from tests.unit.test_compose import load_compose

ROOT = Path(__file__).resolve().parents[2]
# As Compose reads it by default (its ${VAR:-default}s replaced).
SERVICES = load_compose()["services"]


def _settings(
    env: dict[str, str], secrets: dict[str, str], tmp: Path, mp: pytest.MonkeyPatch
) -> Settings:
    for name, value in secrets.items():
        (tmp / name).write_text(value)
    for name in list(os.environ):
        if name.startswith("AR_"):
            mp.delenv(name)
    for key, value in {**env, "AR_SECRETS_DIR": str(tmp)}.items():
        mp.setenv(key, str(value))
    return Settings()


def test_the_web_runs_as_ar_web_with_only_its_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    web = SERVICES["web"]
    assert web["command"] == ["annual-review", "serve", "web"]
    assert web["secrets"] == ["pg-ar_web.password"]
    assert web["ports"] == ["127.0.0.1:8080:8080"]
    assert "/health/ready" in web["healthcheck"]["test"][-1]
    settings = _settings(
        web["environment"], {"pg-ar_web.password": "pw-web"}, tmp_path, monkeypatch
    )
    url = urlsplit(settings.database_url)
    assert (url.username, url.password) == ("ar_web", "pw-web")
    assert settings.kafka_username is None  # the web has no Kafka user


def test_the_publication_job_runs_as_ar_publication_with_only_its_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = SERVICES["publication"]
    assert job["command"] == ["annual-review", "serve", "publication"]
    assert job["environment"]["AR_PRINCIPAL"] == "publication"
    assert job["secrets"] == ["pg-ar_publication.password"]
    settings = _settings(
        job["environment"], {"pg-ar_publication.password": "pw-pub"}, tmp_path, monkeypatch
    )
    url = urlsplit(settings.database_url)
    assert (url.username, url.password) == ("ar_publication", "pw-pub")
    assert settings.kafka_username is None  # the job touches PostgreSQL only


def test_the_roles_job_sets_the_publication_roles_password() -> None:
    script = (ROOT / "infra/postgres/docker-roles.sh").read_text()
    assert "pg-ar_publication.password" in script and "publication_password" in script
    assert "pg-ar_publication.password" in SERVICES["pg-roles"]["secrets"]
    roles = (ROOT / "infra/postgres/roles.sql").read_text()
    assert "CREATE ROLE ar_publication" in roles
    assert ":'publication_password'" in roles
    assert "publication_password" in (ROOT / "infra/postgres/pg.sh").read_text()


def test_as_principal_web_drops_the_callers_kafka_user(tmp_path: Path) -> None:
    (tmp_path / "pg-ar_web.password").write_text("pw")
    admin = Settings.model_construct(
        database_url="postgresql://annual_review:x@127.0.0.1:5432/db", kafka_username="admin",
        secrets_dir=tmp_path,
    )  # fmt: skip
    web = as_principal(admin, "web")
    assert web.kafka_username is None and web.kafka_password is None
    assert urlsplit(web.database_url).username == "ar_web"
