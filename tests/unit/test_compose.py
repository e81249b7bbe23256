"""docker-compose.yml describes the same system `make up` starts, and runs only code we have."""

from __future__ import annotations

import importlib
import os
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from pydantic_settings import BaseSettings

from services.letters.config import LettersSettings
from services.platform.settings import DATABASE_ROLES, Settings
from services.projector.config import ProjectorSettings

ROOT = Path(__file__).resolve().parents[2]
CLUSTER_ENV_FILE = ROOT / "infra/compose-cluster.env"


def load_compose(env: dict[str, str] | None = None) -> dict[str, Any]:
    """docker-compose.yml as Compose reads it with ``env`` (its ``--env-file``): every
    ``${VAR:-default}`` replaced, ``$$`` left for the container's shell."""
    values = env or {}

    def substitute(m: re.Match[str]) -> str:
        return values.get(m[1]) or m[2]

    text = (ROOT / "docker-compose.yml").read_text()
    assert not re.search(r"(?<!\$)\$\{[A-Z_]+\}", text), "give every ${VAR} a :-default"
    return dict(yaml.safe_load(re.sub(r"(?<!\$)\$\{([A-Z_]+):-([^}]*)\}", substitute, text)))


def env_file(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {k.strip(): v.strip() for k, v in pairs if not k.lstrip().startswith("#")}


COMPOSE = load_compose()
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


def _mounted(service: str, container_path: str) -> Path | None:
    """The repository file a container path of ``service`` is bind-mounted from."""
    for volume in SERVICES[service].get("volumes", []):
        source, _, rest = str(volume).partition(":")
        target = rest.split(":")[0]
        if source.startswith("./") and container_path.startswith(target + "/"):
            return ROOT / source[2:] / container_path[len(target) + 1 :]
    return None


@pytest.mark.parametrize(("service", "argv"), _commands(), ids=lambda v: str(v))
def test_commands_run_modules_and_cli_commands_that_exist(service: str, argv: list[str]) -> None:
    if argv[0] in {"sh", "bash"} and len(argv) == 2:
        script = _mounted(service, argv[1])
        assert script is not None and script.is_file(), f"{service}: {argv[1]} is not mounted"
    elif argv[:2] == ["python", "-m"]:
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


# --- security: the same as `make up` (docs/security.md) ---------------------------------------

KAFKA_ENV: dict[str, str] = {k: str(v) for k, v in SERVICES["kafka"]["environment"].items()}
LIB_SH = (ROOT / "infra/lib.sh").read_text()
SECRET_NAMES = set(re.search(r"SECRET_NAMES=\(([^)]*)\)", LIB_SH)[1].split())  # type: ignore[index]
APP_PRINCIPALS = {"init": "admin", "projector": "projector", "letters": "letters"}


def test_every_kafka_listener_authenticates_and_acls_are_enforced() -> None:
    protocols = dict(
        p.split(":") for p in KAFKA_ENV["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(",")
    )
    listeners = [lst.split("://")[0] for lst in KAFKA_ENV["KAFKA_LISTENERS"].split(",")]
    assert {protocols[name] for name in listeners} == {"SASL_PLAINTEXT"}
    assert KAFKA_ENV["KAFKA_AUTHORIZER_CLASS_NAME"] == (
        "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
    )
    assert KAFKA_ENV["KAFKA_SUPER_USERS"] == "User:admin"
    assert KAFKA_ENV["KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND"] == "false"
    for listener in ("INTERNAL", "EXTERNAL"):
        assert KAFKA_ENV[f"KAFKA_LISTENER_NAME_{listener}_SASL_ENABLED_MECHANISMS"] == (
            "SCRAM-SHA-512,PLAIN"
        )
        assert f"KAFKA_LISTENER_NAME_{listener}_SCRAM___SHA___512_SASL_JAAS_CONFIG" in KAFKA_ENV
    assert KAFKA_ENV["KAFKA_LISTENER_NAME_CONTROLLER_SASL_ENABLED_MECHANISMS"] == "PLAIN"


def test_the_local_broker_is_configured_the_same_way() -> None:
    kafka_sh = (ROOT / "infra/kafka/kafka.sh").read_text()
    for line in (
        "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "super.users=User:admin",
        "allow.everyone.if.no.acl.found=false",
        'map="BROKER:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT"',
        "listener.security.protocol.map=${map}",
        "listener.name.broker.sasl.enabled.mechanisms=SCRAM-SHA-512,PLAIN",
        # The TLS listeners authenticate too: SCRAM inside TLS, or a client certificate.
        'map+=",TLS:SASL_SSL,MTLS:SSL"',
        "listener.name.tls.sasl.enabled.mechanisms=SCRAM-SHA-512",
        "listener.name.mtls.ssl.client.auth=required",
        "listener.name.controller.sasl.enabled.mechanisms=PLAIN",
        "sasl.mechanism.inter.broker.protocol=PLAIN",
        "sasl.mechanism.controller.protocol=PLAIN",
        "config.providers.dir.class=org.apache.kafka.common.config.provider.DirectoryConfigProvider",
    ):
        assert line in kafka_sh, line


def test_no_password_is_written_in_the_compose_file() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    # Passwords are only ever read from the secrets: by the broker's config provider...
    for value in re.findall(r'password="([^"]*)"', text) + re.findall(
        r'user_admin="([^"]*)"', text
    ):
        assert value == "$${dir:/run/secrets:kafka-admin.password}", value
    # ...by the postgres image, and by the services through AR_PRINCIPAL + AR_SECRETS_DIR.
    assert SERVICES["postgres"]["environment"]["POSTGRES_PASSWORD_FILE"].startswith("/run/secrets/")
    for name, service in SERVICES.items():
        env = service.get("environment", {})
        assert "POSTGRES_PASSWORD" not in env, name
        assert not any(k in env for k in ("AR_KAFKA_PASSWORD", "AR_KAFKA_USERNAME")), name
        url = env.get("AR_DATABASE_URL")
        assert url is None or urlsplit(url).password is None, name


def test_every_secret_is_one_of_the_local_passwords() -> None:
    declared = COMPOSE["secrets"]
    passwords = {name for name in declared if name.endswith(".password")}
    assert {name.removesuffix(".password") for name in passwords} == SECRET_NAMES
    # Besides the passwords, only the office's public key (ensure_office_key writes it).
    assert set(declared) - passwords == {"office-signing.pub"}
    for name, spec in declared.items():
        assert spec["file"] == f"./.local/compose-secrets/{name}"
    for name, service in SERVICES.items():
        assert set(service.get("secrets", [])) <= set(declared), name
    assert "compose_secrets" in (ROOT / "infra/ctl.sh").read_text()


@pytest.mark.parametrize(("service", "principal"), sorted(APP_PRINCIPALS.items()))
def test_each_service_runs_as_its_principal_with_only_its_own_secrets(
    service: str, principal: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {k: str(v) for k, v in SERVICES[service]["environment"].items()}
    assert env["AR_PRINCIPAL"] == principal
    assert env["AR_SECRETS_DIR"] == "/run/secrets"
    secrets = set(SERVICES[service]["secrets"])
    # The office's public key goes to the projector, which checks the close and the register
    # with it; nothing else needs it.
    assert ("office-signing.pub" in secrets) == (principal == "projector")
    secrets.discard("office-signing.pub")
    role = DATABASE_ROLES[principal]
    assert {f"kafka-{principal}.password", f"pg-{role}.password"} <= secrets
    if principal != "admin":  # the init job also sets every user's SCRAM credential
        assert secrets == {f"kafka-{principal}.password", f"pg-{role}.password"}
    else:
        assert {
            f"kafka-{u}.password" for u in ("cms", "projector", "letters", "operator")
        } <= secrets
    # The settings the service starts with: its own Kafka user and PostgreSQL role.
    for name in secrets:
        (tmp_path / name).write_text(f"pw-{name}")
    for name in list(os.environ):
        if name.startswith("AR_"):
            monkeypatch.delenv(name)
    for key, value in {**env, "AR_SECRETS_DIR": str(tmp_path)}.items():
        monkeypatch.setenv(key, value)
    settings = Settings()
    assert settings.kafka_username == principal
    assert settings.kafka_password is not None
    assert settings.kafka_password.get_secret_value() == f"pw-kafka-{principal}.password"
    url = urlsplit(settings.database_url)
    assert (url.username, url.password, url.hostname) == (
        role,
        f"pw-pg-{role}.password",
        "postgres",
    )


def test_the_roles_job_runs_the_roles_script_of_make_up() -> None:
    script = (ROOT / "infra/postgres/docker-roles.sh").read_text()
    assert "/infra/postgres/roles.sql" in script
    assert "roles.sql" in (ROOT / "infra/postgres/pg.sh").read_text()
    for role in (
        "annual_review",
        "ar_projector",
        "ar_letters",
        "ar_operator",
        "ar_web",
        "ar_publication",
    ):
        assert f"pg-{role}.password" in script
        assert f"pg-{role}.password" in SERVICES["pg-roles"]["secrets"]
    init = SERVICES["init"]
    assert "pg-roles" in init["depends_on"] and "kafka" in init["depends_on"]
    assert "kafka.admin bootstrap" in " ".join(init["command"])


# --- health, images, and a fresh clone ---------------------------------------------------

HEALTH_SETTINGS: dict[str, type[BaseSettings]] = {
    "projector": ProjectorSettings,
    "letters": LettersSettings,
}


@pytest.mark.parametrize("service", sorted(HEALTH_SETTINGS))
def test_each_service_serves_health_on_every_interface_and_docker_probes_its_liveness(
    service: str,
) -> None:
    spec = SERVICES[service]
    prefix = f"AR_{service.upper()}_"
    env = {k: str(v) for k, v in spec["environment"].items()}
    settings = HEALTH_SETTINGS[service]
    # Loopback unless told otherwise; in the container, every interface.
    assert settings.model_fields["metrics_host"].default == "127.0.0.1"
    assert env[f"{prefix}METRICS_HOST"] == "0.0.0.0"
    port = int(env[f"{prefix}METRICS_PORT"])
    assert port == settings.model_fields["metrics_port"].default
    # The healthcheck asks /health/live (never readiness: Docker may restart what fails it)
    # of that port, with the module shipped in the image.
    test = spec["healthcheck"]["test"]
    assert test[:4] == ["CMD", "python", "-m", "services.platform.health"]
    assert test[4] == f"http://127.0.0.1:{port}/health/live"
    assert (ROOT / "services/platform/health.py").is_file()
    # The host reaches it on loopback only.
    assert f"127.0.0.1:{port}:{port}" in spec["ports"]


# Who publishes each image: the project itself (or Docker's official image for PostgreSQL).
PUBLISHERS = {
    "apache/kafka": "the Apache Kafka project",
    "postgres": "the Docker Official Image of PostgreSQL",
    "axllent/mailpit": "Mailpit's author",
    "quay.io/keycloak/keycloak": "the Keycloak project (its own registry)",
    "annual-review": "built here from the Dockerfile",
}


def test_images_come_from_their_projects_own_publishers_at_pinned_versions() -> None:
    for name, service in SERVICES.items():
        repository, _, tag = service["image"].rpartition(":")
        assert repository in PUBLISHERS, f"{name}: {service['image']} is not from a known publisher"
        assert tag and tag != "latest", f"{name}: {service['image']} is not pinned"
    base = re.search(r"^FROM (\S+)", (ROOT / "Dockerfile").read_text(), re.MULTILINE)
    assert base is not None and base[1].startswith("python:3.11-")  # Docker's official Python


def test_the_readme_creates_the_secrets_before_docker_compose_up() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Docker", 1)[1].split("\n## ", 1)[0]
    secrets, up = section.find("infra/ctl.sh secrets"), section.find("docker compose up")
    assert 0 <= secrets < up, "the Docker section must create the secrets before `up`"
    # What the command writes is what the compose file reads.
    assert "compose_secrets" in (ROOT / "infra/ctl.sh").read_text()
    assert all(
        s["file"].startswith("./.local/compose-secrets/") for s in COMPOSE["secrets"].values()
    )
    for path in ("/health/ready", "/health/live", "/metrics"):
        assert path in section, path


def test_the_letter_service_sends_to_mailpit_with_its_smtp_settings_accepted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Mailpit offers no STARTTLS without a certificate (MP_SMTP_TLS_CERT): the letter
    service must then have no SMTP login, which would make TLS required and fail every
    letter (docs/security.md, "Mail"); its settings in the compose file pass validation."""
    env = {k: str(v) for k, v in SERVICES["letters"]["environment"].items()}
    assert (env["AR_SMTP_HOST"], env["AR_SMTP_PORT"]) == ("mailpit", "1025")
    mailpit = {k: str(v) for k, v in (SERVICES["mailpit"].get("environment") or {}).items()}
    if "MP_SMTP_TLS_CERT" not in mailpit:
        assert not any(k.startswith("AR_LETTERS_SMTP_USERNAME") for k in env)
    for name in [n for n in os.environ if n.startswith("AR_LETTERS_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert LettersSettings().smtp_tls == "opportunistic"


# --- the `cluster` profile: three brokers (docs/operations.md, "Running a cluster") -----------

CLUSTER_ENV = env_file(CLUSTER_ENV_FILE)
CLUSTER = load_compose(CLUSTER_ENV)["services"]
BROKERS = ("kafka", "kafka-2", "kafka-3")
SHARED_SECURITY = (
    "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP",
    "KAFKA_SUPER_USERS",
    "KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND",
    "KAFKA_AUTHORIZER_CLASS_NAME",
)


def _kafka_env(services: dict[str, Any], name: str) -> dict[str, str]:
    return {k: str(v) for k, v in services[name]["environment"].items()}


def test_the_default_stays_one_broker_with_replication_1() -> None:
    assert "profiles" not in SERVICES["kafka"]
    assert all(SERVICES[b].get("profiles") == ["cluster"] for b in BROKERS[1:])
    assert KAFKA_ENV["KAFKA_CONTROLLER_QUORUM_VOTERS"] == "1@kafka:9093"
    assert str(SERVICES["init"]["environment"]["AR_KAFKA_REPLICATION_FACTOR"]) == "1"
    assert str(SERVICES["init"]["environment"]["AR_KAFKA_MIN_INSYNC_REPLICAS"]) == "1"
    assert SERVICES["projector"]["environment"]["AR_KAFKA_BOOTSTRAP"] == "kafka:9092"


def test_the_cluster_profile_is_three_kraft_nodes_of_one_quorum() -> None:
    assert CLUSTER_ENV["COMPOSE_PROFILES"] == "cluster"
    envs = {b: _kafka_env(CLUSTER, b) for b in BROKERS}
    ids = {b: e["KAFKA_NODE_ID"] for b, e in envs.items()}
    assert sorted(ids.values()) == ["1", "2", "3"]
    voters = {e["KAFKA_CONTROLLER_QUORUM_VOTERS"] for e in envs.values()}
    assert voters == {",".join(f"{ids[b]}@{b}:9093" for b in BROKERS)}
    for b, e in envs.items():
        assert e["KAFKA_PROCESS_ROLES"] == "broker,controller"
        assert f"INTERNAL://{b}:9092" in e["KAFKA_ADVERTISED_LISTENERS"]
        # The same security as node 1 (and `make up`): the anchors share it.
        for key in SHARED_SECURITY:
            assert e[key] == KAFKA_ENV[key], (b, key)
        assert e["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "3"
        assert e["KAFKA_MIN_INSYNC_REPLICAS"] == "2"
        assert CLUSTER[b]["secrets"] == ["kafka-admin.password"]
    # Each node its own data volume and host port, the ports of `KAFKA_BROKERS=3 make up`.
    volumes = [CLUSTER[b]["volumes"][0].split(":")[0] for b in BROKERS]
    assert len(set(volumes)) == 3
    assert all(v in load_compose(CLUSTER_ENV)["volumes"] for v in volumes)
    host_ports = [int(str(CLUSTER[b]["ports"][0]).split(":")[1]) for b in BROKERS]
    assert host_ports == [19092, 19102, 19112]
    for b, port in zip(BROKERS, host_ports, strict=True):
        assert f"EXTERNAL://127.0.0.1:{port}" in envs[b]["KAFKA_ADVERTISED_LISTENERS"]


def test_the_cluster_profile_replicates_3_with_2_in_sync_and_clients_know_every_node() -> None:
    init = {k: str(v) for k, v in CLUSTER["init"]["environment"].items()}
    assert init["AR_KAFKA_REPLICATION_FACTOR"] == "3"
    assert init["AR_KAFKA_MIN_INSYNC_REPLICAS"] == "2"
    for service in ("init", "projector", "letters", "web", "publication"):
        bootstrap = CLUSTER[service]["environment"]["AR_KAFKA_BOOTSTRAP"]
        assert bootstrap == "kafka:9092,kafka-2:9092,kafka-3:9092", service
        Settings(kafka_bootstrap=bootstrap)  # the settings accept the list


def test_the_office_signing_key_never_goes_into_a_container() -> None:
    """The private key signs the close and the register: only the operator's processes on
    the host read it (docs/security.md); the compose file knows only the public key."""
    assert "office-signing.key" not in (ROOT / "docker-compose.yml").read_text()
    for name, service in SERVICES.items():
        assert not any("office-signing.key" in str(s) for s in service.get("secrets", [])), name
    copies = re.search(r"^compose_secrets\(\) \{\n(.*?)^\}", LIB_SH, re.M | re.S)
    assert copies is not None
    assert "office-signing.pub" in copies[1]
    assert "office-signing.key" not in copies[1]
