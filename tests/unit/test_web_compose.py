"""docker-compose.yml runs the web site as principal web (role ar_web, its password only,
no Kafka user), published on loopback with a readiness healthcheck, and the publication job
as the operator."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from services.platform.settings import Settings, as_principal

ROOT = Path(__file__).resolve().parents[2]
SERVICES = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]


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


def test_the_publication_job_runs_as_the_operator() -> None:
    job = SERVICES["publication"]
    assert job["command"] == ["annual-review", "serve", "publication"]
    assert job["environment"]["AR_PRINCIPAL"] == "operator"
    assert set(job["secrets"]) == {"kafka-operator.password", "pg-ar_operator.password"}


def test_as_principal_web_drops_the_callers_kafka_user(tmp_path: Path) -> None:
    (tmp_path / "pg-ar_web.password").write_text("pw")
    admin = Settings.model_construct(
        database_url="postgresql://annual_review:x@127.0.0.1:5432/db", kafka_username="admin",
        secrets_dir=tmp_path,
    )  # fmt: skip
    web = as_principal(admin, "web")
    assert web.kafka_username is None and web.kafka_password is None
    assert urlsplit(web.database_url).username == "ar_web"
