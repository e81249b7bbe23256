"""docker-compose.yml describes the same system `make up` starts, and runs only code we have."""

from __future__ import annotations

import importlib
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.platform.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
CLI_NAME, CLI_TARGET = next(iter(PYPROJECT["project"]["scripts"].items()))

# TODO: drop once services/cli/main.py exists; until then these are the subcommands the CLI
# owner has agreed to provide, and the test checks the compose file against this list.
AGREED_CLI_COMMANDS = {("serve", "projector"), ("serve", "letters")}


def _argvs(command: list[str] | str) -> list[list[str]]:
    """The program invocations of a compose command (``sh -c "a && b"`` gives two)."""
    argv = shlex.split(command) if isinstance(command, str) else list(command)
    if len(argv) == 3 and argv[0] in {"sh", "bash"} and argv[1] == "-c":
        return [shlex.split(part) for part in re.split(r"&&|\|\||;", argv[2]) if part.strip()]
    return [argv]


def _commands() -> list[tuple[str, list[str]]]:
    return [
        (name, argv)
        for name, service in SERVICES.items()
        if "command" in service
        for argv in _argvs(service["command"])
    ]


def _cli_has(path: tuple[str, ...]) -> bool:
    module_name, _, attr = CLI_TARGET.partition(":")
    if not (ROOT / (module_name.replace(".", "/") + ".py")).is_file():
        return path in AGREED_CLI_COMMANDS
    import typer.main

    command: Any = typer.main.get_command(getattr(importlib.import_module(module_name), attr))
    for word in path:
        subcommands = getattr(command, "commands", None)  # only groups have subcommands
        if not isinstance(subcommands, dict) or word not in subcommands:
            return False
        command = subcommands[word]
    return True


def test_every_service_has_an_image_or_a_buildable_dockerfile() -> None:
    for name, service in SERVICES.items():
        assert "image" in service or "build" in service, name
        if "build" in service:
            build = service["build"]
            context = ROOT / (build if isinstance(build, str) else build.get("context", "."))
            dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile")
            assert (context / (dockerfile or "Dockerfile")).is_file(), name


def test_dependencies_are_defined_services_with_the_health_their_condition_needs() -> None:
    for name, service in SERVICES.items():
        depends = service.get("depends_on", {})
        entries = {d: {} for d in depends} if isinstance(depends, list) else depends
        for target, spec in entries.items():
            assert target in SERVICES, f"{name} depends on undefined {target}"
            condition = spec.get("condition", "service_started")
            assert condition in {
                "service_started",
                "service_healthy",
                "service_completed_successfully",
            }
            if condition == "service_healthy":
                assert "healthcheck" in SERVICES[target], f"{target} has no healthcheck"


@pytest.mark.parametrize(("service", "argv"), _commands(), ids=lambda v: str(v))
def test_commands_run_modules_and_cli_commands_that_exist(service: str, argv: list[str]) -> None:
    if argv[:2] == ["python", "-m"]:
        module = ROOT / argv[2].replace(".", "/")
        assert module.with_suffix(".py").is_file() or (module / "__main__.py").is_file(), argv
    elif argv[0] == CLI_NAME:
        words = tuple(a for a in argv[1:] if not a.startswith("-"))
        assert _cli_has(words), f"{service}: `{shlex.join(argv)}` is not a command of the CLI"
    else:
        pytest.fail(f"{service}: unrecognised program {argv[0]!r}; teach this test about it")


def test_published_ports_are_loopback_only() -> None:
    for name, service in SERVICES.items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port}"


def test_host_ports_match_the_settings_defaults_and_the_local_servers() -> None:
    published = {
        int(str(p).split(":")[2]): int(str(p).split(":")[1])
        for service in SERVICES.values()
        for p in service.get("ports", [])
    }
    defaults = Settings.model_construct()
    kafka_port = int(defaults.kafka_bootstrap.rsplit(":", 1)[1])
    assert published[19092] == kafka_port  # EXTERNAL listener, advertised as 127.0.0.1:19092
    assert published[5432] == int(re.search(r":(\d+)/", defaults.database_url)[1])  # type: ignore[index]
    assert published[1025] == defaults.smtp_port


def test_kafka_and_postgres_versions_match_the_local_servers() -> None:
    pom = (ROOT / "infra/kafka/pom.xml").read_text()
    kafka_version = re.search(r"<kafka.version>([^<]+)</kafka.version>", pom)
    assert kafka_version is not None
    assert SERVICES["kafka"]["image"] == f"apache/kafka:{kafka_version[1]}"
    assert SERVICES["postgres"]["image"] == "postgres:15"
    assert "/usr/lib/postgresql/15/bin" in (ROOT / "infra/postgres/pg.sh").read_text()


def test_the_image_uses_the_projects_python() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-", dockerfile, re.MULTILINE)
    assert PYPROJECT["project"]["requires-python"].startswith(">=3.11")
