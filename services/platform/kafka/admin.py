"""Kafka administration: wait for the broker, create the topics declared in contracts/topics.py,
the principals' SCRAM credentials and their ACLs (services/platform/kafka/acls.py).

    python -m services.platform.kafka.admin wait [--timeout 90]
    python -m services.platform.kafka.admin ensure-topics [--replication-factor N] [--strict]
    python -m services.platform.kafka.admin ensure-users   # SCRAM users from AR_SECRETS_DIR
    python -m services.platform.kafka.admin ensure-acls    # ACLs for AR_TOPIC_PREFIX
    python -m services.platform.kafka.admin bootstrap      # users, topics, ACLs (make up)

Every client authenticates as the caller's settings say (AR_KAFKA_USERNAME or
AR_PRINCIPAL, services/platform/kafka/security.py); the helpers below that take only a
bootstrap address use this process's own credentials unless given ``**kafka`` arguments.

``ensure-topics`` creates the missing topics with their partition count and config; for the
existing ones it sets the config to exactly the declared one and reports a partition count
that differs from the declaration (Kafka cannot lower a partition count, and raising it would
move keys between partitions, so it is never changed automatically). Every topic is created
with the settings' replication factor (AR_KAFKA_REPLICATION_FACTOR) and gets their
``min.insync.replicas`` (AR_KAFKA_MIN_INSYNC_REPLICAS) in its config; an existing topic
with another replication factor is reported, not reassigned.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import structlog
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError
from pydantic import SecretStr

from contracts.topics import TOPICS, TopicSpec
from services.platform.kafka import acls
from services.platform.kafka.security import process_sasl_kwargs, sasl_kwargs
from services.platform.logging import configure_logging
from services.platform.settings import Settings, get_settings

log = structlog.get_logger("services.platform.kafka.admin")

TOPIC_ALREADY_EXISTS = 36


@dataclass(frozen=True, slots=True)
class TopicReport:
    name: str
    action: str  # "created", "config-updated", "unchanged"
    partitions: int
    expected_partitions: int
    changed_config: dict[str, tuple[str | None, str]]
    replication_factor: int = 0
    expected_replication_factor: int = 0

    @property
    def partition_mismatch(self) -> bool:
        return self.partitions != self.expected_partitions


async def open_admin(bootstrap: str, *, wait_s: float = 30.0, **kafka: Any) -> AIOKafkaAdminClient:
    """A started admin client; retries until the broker answers metadata or ``wait_s`` passes.
    ``kafka``: the authentication (default: this process's, see the module docstring)."""
    deadline = time.monotonic() + wait_s
    last: Exception | None = None
    auth = kafka or process_sasl_kwargs()
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000, **auth)
        try:
            await admin.start()
            await admin.list_topics()
            return admin
        except (KafkaError, OSError) as exc:
            last = exc
            await admin.close()
        if time.monotonic() >= deadline:
            raise TimeoutError(
                f"Kafka at {bootstrap} did not answer within {wait_s:.0f}s: {last!r}"
            ) from last
        await asyncio.sleep(0.5)


async def wait_for_kafka(bootstrap: str, *, wait_s: float = 90.0, **kafka: Any) -> list[str]:
    """Wait until the broker answers metadata requests; returns the topic names."""
    admin = await open_admin(bootstrap, wait_s=wait_s, **kafka)
    try:
        return sorted(await admin.list_topics())
    finally:
        await admin.close()


async def partitions_of(
    bootstrap: str, topic: str, *, wait_s: float = 10.0, **kafka: Any
) -> list[int]:
    """The partition numbers of a topic (empty if it does not exist)."""
    admin = await open_admin(bootstrap, wait_s=wait_s, **kafka)
    try:
        described: list[dict[str, Any]] = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return sorted(
        p["partition"] for t in described if not t.get("error_code") for p in t["partitions"]
    )


async def _topic_configs(
    admin: AIOKafkaAdminClient, names: Iterable[str]
) -> dict[str, dict[str, str | None]]:
    resources = [ConfigResource(ConfigResourceType.TOPIC, name) for name in names]
    if not resources:
        return {}
    out: dict[str, dict[str, str | None]] = {}
    for response in await admin.describe_configs(resources):
        # (error_code, error_message, resource_type, resource_name, config_entries)
        for error_code, error_message, _type, name, entries in response.resources:
            if error_code:
                raise RuntimeError(
                    f"describe configs of {name}: error {error_code} {error_message}"
                )
            out[name] = {entry[0]: entry[1] for entry in entries}
    return out


async def _partition_counts(
    admin: AIOKafkaAdminClient, names: list[str]
) -> dict[str, tuple[int, int]]:
    """(partitions, replication factor: the fewest replicas of any partition) per topic."""
    if not names:
        return {}
    described: list[dict[str, Any]] = await admin.describe_topics(names)
    return {
        t["topic"]: (
            len(t["partitions"]),
            min((len(p["replicas"]) for p in t["partitions"]), default=0),
        )
        for t in described
    }


def with_replication(spec: TopicSpec, min_insync_replicas: int) -> TopicSpec:
    """The declared topic with the cluster's ``min.insync.replicas`` in its config."""
    return dataclasses.replace(
        spec, config={**spec.config, "min.insync.replicas": str(min_insync_replicas)}
    )


async def ensure_topics(
    bootstrap: str,
    topics: Iterable[TopicSpec] = TOPICS,
    *,
    replication_factor: int = 1,
    min_insync_replicas: int = 1,
    wait_s: float = 30.0,
    **kafka: Any,
) -> list[TopicReport]:
    """Create missing topics and bring the config of existing ones to the declared one, with
    ``min_insync_replicas`` (which must not exceed the replication factor: a topic whose
    writes could never be acknowledged is refused here, not at the first publish)."""
    if not 1 <= min_insync_replicas <= replication_factor:
        raise ValueError(
            f"min.insync.replicas {min_insync_replicas} must be from 1 to the replication "
            f"factor {replication_factor} (AR_KAFKA_MIN_INSYNC_REPLICAS)"
        )
    specs = [with_replication(s, min_insync_replicas) for s in topics]
    admin = await open_admin(bootstrap, wait_s=wait_s, **kafka)
    try:
        existing = set(await admin.list_topics())
        missing = [s for s in specs if s.name not in existing]
        created: set[str] = set()
        if missing:
            response = await admin.create_topics(
                [
                    NewTopic(s.name, s.partitions, replication_factor, topic_configs=dict(s.config))
                    for s in missing
                ]
            )
            for entry in response.topic_errors:
                name, code = entry[0], entry[1]
                message = entry[2] if len(entry) > 2 else ""
                if code == 0:
                    created.add(name)
                elif code != TOPIC_ALREADY_EXISTS:
                    raise RuntimeError(f"creating topic {name} failed: error {code} {message}")

        to_check = [s for s in specs if s.name not in created]
        current = await _topic_configs(admin, (s.name for s in to_check))
        changes: dict[str, dict[str, tuple[str | None, str]]] = {}
        for spec in to_check:
            have = current.get(spec.name, {})
            diff = {k: (have.get(k), v) for k, v in spec.config.items() if have.get(k) != v}
            if diff:
                changes[spec.name] = diff
        if changes:
            # AlterConfigs (not incremental) replaces the topic's whole dynamic config: the
            # declared config becomes exactly the topic's config.
            responses = await admin.alter_configs(
                [
                    ConfigResource(ConfigResourceType.TOPIC, s.name, dict(s.config))
                    for s in to_check
                    if s.name in changes
                ]
            )
            for response in responses:
                for error_code, error_message, _type, name in response.resources:
                    if error_code:
                        raise RuntimeError(
                            f"altering config of {name} failed: error {error_code} {error_message}"
                        )

        counts = await _partition_counts(admin, [s.name for s in specs])
        # In a cluster the broker answering may not know a topic the controller has just
        # created: ask again for a while rather than report it with 0 partitions.
        settle = time.monotonic() + wait_s
        while (
            created
            and time.monotonic() < settle
            and any(counts.get(name, (0, 0))[0] == 0 for name in created)
        ):
            await asyncio.sleep(0.2)
            counts = await _partition_counts(admin, [s.name for s in specs])
        reports = []
        for spec in specs:
            if spec.name in created:
                action = "created"
            elif spec.name in changes:
                action = "config-updated"
            else:
                action = "unchanged"
            reports.append(
                TopicReport(
                    name=spec.name,
                    action=action,
                    partitions=counts.get(spec.name, (0, 0))[0],
                    expected_partitions=spec.partitions,
                    changed_config=changes.get(spec.name, {}),
                    replication_factor=counts.get(spec.name, (0, 0))[1],
                    expected_replication_factor=replication_factor,
                )
            )
        return reports
    finally:
        await admin.close()


def _print_reports(reports: list[TopicReport]) -> int:
    mismatches = 0
    for r in reports:
        line = (
            f"topic {r.name}: {r.action}, {r.partitions} partitions,"
            f" replication factor {r.replication_factor}"
        )
        if r.changed_config:
            changed = ", ".join(
                f"{k}: {old!r} -> {new!r}" for k, (old, new) in r.changed_config.items()
            )
            line += f" (config {changed})"
        print(line)
        if r.partition_mismatch:
            mismatches += 1
            print(
                f"  WARNING: {r.name} has {r.partitions} partitions but contracts/topics.py"
                f" declares {r.expected_partitions}; it is not changed automatically. Delete the"
                " topic (or `make clean` for a fresh local broker) to recreate it.",
                file=sys.stderr,
            )
        if r.replication_factor != r.expected_replication_factor:
            print(
                f"  WARNING: {r.name} has replication factor {r.replication_factor} but"
                f" AR_KAFKA_REPLICATION_FACTOR is {r.expected_replication_factor}; it is not"
                ' reassigned automatically (docs/operations.md, "Running a cluster").',
                file=sys.stderr,
            )
    return mismatches


async def ensure_users(settings: Settings, *, wait_s: float = 30.0) -> list[str]:
    """Create or update every principal's SCRAM credential from ``settings.secrets_dir``,
    then wait until each can log in (the broker applies them from its metadata log)."""
    if settings.secrets_dir is None:
        raise RuntimeError("AR_SECRETS_DIR is not set: no passwords to give the Kafka users")
    passwords = acls.principal_passwords(settings.secrets_dir)
    admin = await open_admin(settings.kafka_bootstrap, wait_s=wait_s, **sasl_kwargs(settings))
    try:
        await acls.upsert_scram_users(admin, passwords)
    finally:
        await admin.close()
    for user, password in passwords.items():
        scram = settings.model_copy(
            update={"kafka_username": user, "kafka_password": SecretStr(password),
                    "kafka_sasl_mechanism": "SCRAM-SHA-512"}
        )  # fmt: skip
        probe = await open_admin(settings.kafka_bootstrap, wait_s=wait_s, **sasl_kwargs(scram))
        await probe.close()
    return sorted(passwords)


async def ensure_acls(settings: Settings, *, wait_s: float = 30.0) -> list[str]:
    """Create the missing ACLs of the settings' topic prefix; returns them, described."""
    admin = await open_admin(settings.kafka_bootstrap, wait_s=wait_s, **sasl_kwargs(settings))
    try:
        return [str(b) for b in await acls.grant(admin, settings.topic_prefix)]
    finally:
        await admin.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.platform.kafka.admin")
    parser.add_argument("--bootstrap", help="bootstrap servers (default: AR_KAFKA_BOOTSTRAP)")
    sub = parser.add_subparsers(dest="command", required=True)
    wait = sub.add_parser("wait", help="wait until the broker answers metadata requests")
    wait.add_argument("--timeout", type=float, default=90.0)
    ensure = sub.add_parser("ensure-topics", help="create/alter the topics of contracts/topics.py")
    ensure.add_argument(
        "--replication-factor", type=int, help="default: AR_KAFKA_REPLICATION_FACTOR"
    )
    ensure.add_argument("--timeout", type=float, default=30.0)
    ensure.add_argument(
        "--strict", action="store_true", help="exit 1 when a partition count differs"
    )
    for name, text in (
        ("ensure-users", "create/update the principals' SCRAM credentials (AR_SECRETS_DIR)"),
        ("ensure-acls", "create the principals' ACLs on the topics of AR_TOPIC_PREFIX"),
        ("bootstrap", "ensure-users (when AR_SECRETS_DIR is set), ensure-topics, ensure-acls"),
    ):
        extra = sub.add_parser(name, help=text)
        extra.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args(argv)

    settings = get_settings()
    configure_logging(settings)
    if settings.kafka_sasl_mechanism == "PLAIN":
        # aiokafka warns on every PLAIN login; the bootstrap (admin over loopback) knows.
        logging.getLogger("aiokafka.conn").setLevel(logging.ERROR)
    if args.bootstrap:
        settings = settings.model_copy(update={"kafka_bootstrap": args.bootstrap})
    bootstrap = settings.kafka_bootstrap
    auth = sasl_kwargs(settings)
    try:
        if args.command == "wait":
            topics = asyncio.run(wait_for_kafka(bootstrap, wait_s=args.timeout, **auth))
            print(f"Kafka at {bootstrap} answers ({len(topics)} topics)")
            return 0
        if args.command in ("ensure-users", "bootstrap") and (
            args.command == "ensure-users" or settings.secrets_dir is not None
        ):
            users = asyncio.run(ensure_users(settings, wait_s=args.timeout))
            print(f"SCRAM credentials of {', '.join(users)}: up to date")
        mismatches = 0
        if args.command in ("ensure-topics", "bootstrap"):
            reports = asyncio.run(
                ensure_topics(
                    bootstrap,
                    [dataclasses.replace(t, name=settings.topic(t)) for t in TOPICS],
                    replication_factor=getattr(args, "replication_factor", None)
                    or settings.kafka_replication_factor,
                    min_insync_replicas=settings.kafka_min_insync_replicas,
                    wait_s=args.timeout,
                    **auth,
                )
            )
            mismatches = _print_reports(reports)
        if args.command in ("ensure-acls", "bootstrap") and settings.kafka_username:
            created = asyncio.run(ensure_acls(settings, wait_s=args.timeout))
            prefix = settings.topic_prefix or "(no prefix)"
            print(f"ACLs of topic prefix {prefix}: {len(created)} created")
            for line in created:
                print(f"  {line}")
    except (TimeoutError, RuntimeError, ValueError, KafkaError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 1 if mismatches and getattr(args, "strict", False) else 0


if __name__ == "__main__":
    sys.exit(main())
