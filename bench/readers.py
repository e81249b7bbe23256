"""The ceilings: how fast this machine can read the log at all.

1. Kafka's own Java consumer (``kafka-tools``' ConsumerPerformance) on the same topic.
2. A bare aiokafka loop: fetch only, and fetch plus ``contracts.codec.decode`` of every
   record (what any Python consumer of the contract must at least do).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from bench.infra import REPO, Skip
from contracts.codec import decode
from contracts.topics import FACTS
from services.platform.kafka.security import client_kwargs, sasl_kwargs
from services.platform.settings import Settings

KAFKA_LIBS_ENV = "AR_BENCH_KAFKA_LIBS"
DEFAULT_LIBS = REPO / ".local" / "kafka" / "libs"
CONSUMER_PERFORMANCE = "org.apache.kafka.tools.ConsumerPerformance"


def kafka_libs() -> Path:
    return Path(os.environ.get(KAFKA_LIBS_ENV) or DEFAULT_LIBS)


def kafka_version() -> str | None:
    libs = kafka_libs()
    for jar in sorted(libs.glob("kafka-clients-*.jar")) if libs.is_dir() else []:
        m = re.match(r"kafka-clients-(.+)\.jar$", jar.name)
        if m:
            return m.group(1)
    return None


def _client_properties(settings: Settings) -> str:
    """The Java client's authentication, as ConsumerPerformance's --consumer.config."""
    kw = sasl_kwargs(settings)
    lines = [f"security.protocol={kw['security_protocol']}"] if kw.get("security_protocol") else []
    if kw.get("sasl_plain_username"):
        module = (
            "org.apache.kafka.common.security.plain.PlainLoginModule"
            if kw["sasl_mechanism"] == "PLAIN"
            else "org.apache.kafka.common.security.scram.ScramLoginModule"
        )
        user = kw["sasl_plain_username"].replace('"', '\\"')
        password = kw["sasl_plain_password"].replace('"', '\\"')
        lines += [
            f"sasl.mechanism={kw['sasl_mechanism']}",
            f'sasl.jaas.config={module} required username="{user}" password="{password}";',
        ]
    return "\n".join(lines) + "\n"


def java_consumer(settings: Settings, topic: str, messages: int) -> dict[str, Any]:
    """One ConsumerPerformance run; its fetch.nMsg.sec excludes JVM start and group join."""
    java = shutil.which("java")
    if java is None:
        raise Skip("no `java` on PATH (apt-get install openjdk-17-jre-headless)")
    libs = kafka_libs()
    if not any(libs.glob("kafka-tools-*.jar")):
        raise Skip(
            f"kafka-tools jar not found in {libs} (run `make setup`, or set {KAFKA_LIBS_ENV} "
            f"to a directory with Kafka's jars)"
        )
    with tempfile.NamedTemporaryFile("w", suffix=".properties", delete=False) as f:
        f.write(_client_properties(settings))  # mode 0600: it may hold the SASL password
    try:
        started = time.monotonic()
        done = subprocess.run(
            [
                java, "-Xmx512m", "-cp", f"{libs}/*", CONSUMER_PERFORMANCE,
                "--bootstrap-server", settings.kafka_bootstrap, "--topic", topic,
                "--messages", str(messages), "--timeout", "60000",
                "--group", f"bench-cp-{uuid.uuid4().hex[:8]}", "--consumer.config", f.name,
            ],
            capture_output=True, text=True, timeout=900, check=False,
        )  # fmt: skip
    finally:
        os.unlink(f.name)
    wall = time.monotonic() - started
    lines = [ln for ln in done.stdout.splitlines() if ln.strip()]
    header = next((i for i, ln in enumerate(lines) if ln.startswith("start.time")), None)
    if done.returncode != 0 or header is None or header + 1 >= len(lines):
        raise RuntimeError(
            f"ConsumerPerformance failed ({done.returncode}): {(done.stderr or done.stdout)[-800:]}"
        )
    names = [n.strip() for n in lines[header].split(",")]
    values = [v.strip() for v in lines[header + 1].split(",")]
    row = dict(zip(names, values, strict=False))
    consumed = int(row["data.consumed.in.nMsg"])
    if consumed < messages:
        raise RuntimeError(f"ConsumerPerformance read {consumed} of {messages} messages")
    return {
        "events_per_second": float(row["fetch.nMsg.sec"]),
        "mb_per_second": float(row["fetch.MB.sec"]),
        "events": consumed,
        "fetch_seconds": float(row["fetch.time.ms"]) / 1000,
        "wall_seconds": wall,
    }


async def aiokafka_loop(
    settings: Settings, topic: str, messages: int, *, decode_records: bool, max_records: int = 5000
) -> dict[str, Any]:
    """Read ``messages`` records from the start of every partition (optionally decoding each),
    with the rebuild's consumer settings."""
    consumer = AIOKafkaConsumer(
        **client_kwargs(settings),
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=max_records,
        fetch_max_bytes=16 * 1024 * 1024,
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(FACTS.partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        seen = 0
        started = time.monotonic()
        while seen < messages:
            batch = await consumer.getmany(timeout_ms=1000, max_records=max_records)
            for records in batch.values():
                if decode_records:
                    for r in records:
                        decode(r.value)
                seen += len(records)
        seconds = time.monotonic() - started
    finally:
        await consumer.stop()
    return {"events_per_second": seen / seconds, "events": seen, "seconds": seconds}
