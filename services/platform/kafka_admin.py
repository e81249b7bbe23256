"""Kafka administration: wait for the broker, create the topics declared in contracts/topics.py.

    python -m services.platform.kafka_admin wait [--timeout 90]
    python -m services.platform.kafka_admin ensure-topics [--replication-factor 1] [--strict]

``ensure-topics`` creates the missing topics with their partition count and config; for the
existing ones it sets the config to exactly the declared one and reports a partition count
that differs from the declaration (Kafka cannot lower a partition count, and raising it would
move keys between partitions, so it is never changed automatically).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import structlog
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError

from contracts.topics import TOPICS, TopicSpec
from services.platform.logging import configure_logging
from services.platform.settings import get_settings

log = structlog.get_logger("services.platform.kafka_admin")

TOPIC_ALREADY_EXISTS = 36


@dataclass(frozen=True, slots=True)
class TopicReport:
    name: str
    action: str  # "created", "config-updated", "unchanged"
    partitions: int
    expected_partitions: int
    changed_config: dict[str, tuple[str | None, str]]

    @property
    def partition_mismatch(self) -> bool:
        return self.partitions != self.expected_partitions


async def open_admin(bootstrap: str, *, wait_s: float = 30.0) -> AIOKafkaAdminClient:
    """A started admin client; retries until the broker answers metadata or ``wait_s`` passes."""
    deadline = time.monotonic() + wait_s
    last: Exception | None = None
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
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


async def wait_for_kafka(bootstrap: str, *, wait_s: float = 90.0) -> list[str]:
    """Wait until the broker answers metadata requests; returns the topic names."""
    admin = await open_admin(bootstrap, wait_s=wait_s)
    try:
        return sorted(await admin.list_topics())
    finally:
        await admin.close()


async def partitions_of(bootstrap: str, topic: str, *, wait_s: float = 10.0) -> list[int]:
    """The partition numbers of a topic (empty if it does not exist)."""
    admin = await open_admin(bootstrap, wait_s=wait_s)
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


async def _partition_counts(admin: AIOKafkaAdminClient, names: list[str]) -> dict[str, int]:
    if not names:
        return {}
    described: list[dict[str, Any]] = await admin.describe_topics(names)
    return {t["topic"]: len(t["partitions"]) for t in described}


async def ensure_topics(
    bootstrap: str,
    topics: Iterable[TopicSpec] = TOPICS,
    *,
    replication_factor: int = 1,
    wait_s: float = 30.0,
) -> list[TopicReport]:
    """Create missing topics and bring the config of existing ones to the declared one."""
    specs = list(topics)
    admin = await open_admin(bootstrap, wait_s=wait_s)
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
                    partitions=counts.get(spec.name, 0),
                    expected_partitions=spec.partitions,
                    changed_config=changes.get(spec.name, {}),
                )
            )
        return reports
    finally:
        await admin.close()


def _print_reports(reports: list[TopicReport]) -> int:
    mismatches = 0
    for r in reports:
        line = f"topic {r.name}: {r.action}, {r.partitions} partitions"
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
    return mismatches


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.platform.kafka_admin")
    parser.add_argument("--bootstrap", help="bootstrap servers (default: AR_KAFKA_BOOTSTRAP)")
    sub = parser.add_subparsers(dest="command", required=True)
    wait = sub.add_parser("wait", help="wait until the broker answers metadata requests")
    wait.add_argument("--timeout", type=float, default=90.0)
    ensure = sub.add_parser("ensure-topics", help="create/alter the topics of contracts/topics.py")
    ensure.add_argument("--replication-factor", type=int, default=1)
    ensure.add_argument("--timeout", type=float, default=30.0)
    ensure.add_argument(
        "--strict", action="store_true", help="exit 1 when a partition count differs"
    )
    args = parser.parse_args(argv)

    settings = get_settings()
    configure_logging(settings)
    bootstrap = args.bootstrap or settings.kafka_bootstrap
    try:
        if args.command == "wait":
            topics = asyncio.run(wait_for_kafka(bootstrap, wait_s=args.timeout))
            print(f"Kafka at {bootstrap} answers ({len(topics)} topics)")
            return 0
        reports = asyncio.run(
            ensure_topics(
                bootstrap,
                [dataclasses.replace(t, name=settings.topic(t)) for t in TOPICS],
                replication_factor=args.replication_factor,
                wait_s=args.timeout,
            )
        )
    except (TimeoutError, RuntimeError, KafkaError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    mismatches = _print_reports(reports)
    return 1 if mismatches and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
