"""Publishing as other systems do: a librdkafka client and Kafka's own Java console producer.

A case management system on .NET, Go or C/C++ (or Python with confluent-kafka) publishes
through librdkafka, whose default partitioner is ``consistent_random`` (CRC32 of the key);
a Java system through kafka-clients (murmur2 of the key, like aiokafka and the project's
own publisher). Both are driven here with their default producer settings and only what
they need to connect: the bootstrap address and the ``cms`` principal's SASL login. The
headers are set by hand from the names in contracts.topics, as an integrator would.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from contracts.codec import encode
from contracts.envelope import Envelope
from contracts.topics import HEADER_EVENT_ID, HEADER_EVENT_TYPE, HEADER_SCHEMA_VERSION
from services.platform.settings import Principal, Settings, as_principal

REPO = Path(__file__).resolve().parents[2]
KAFKA_LIBS = REPO / ".local" / "kafka" / "libs"


@dataclasses.dataclass(frozen=True, slots=True)
class Login:
    """What any Kafka client needs to reach the broker as one principal."""

    bootstrap: str
    security_protocol: str
    mechanism: str | None
    username: str | None
    password: str | None

    @classmethod
    def of(cls, settings: Settings, principal: Principal = "cms") -> Login:
        s = as_principal(settings, principal)
        password = s.kafka_password.get_secret_value() if s.kafka_password else None
        return cls(
            bootstrap=s.kafka_bootstrap,
            security_protocol=s.kafka_protocol,
            mechanism=s.kafka_sasl_mechanism if s.kafka_username else None,
            username=s.kafka_username,
            password=password,
        )


def headers(event: Envelope[Any]) -> list[tuple[str, bytes]]:
    return [
        (HEADER_EVENT_TYPE, event.type.encode()),
        (HEADER_SCHEMA_VERSION, str(event.schema_version).encode()),
        (HEADER_EVENT_ID, str(event.event_id).encode()),
    ]


# --- librdkafka (confluent-kafka) -----------------------------------------------------------


def librdkafka_config(login: Login) -> dict[str, str]:
    """Connection settings only: partitioner, acks, idempotence and batching stay librdkafka's
    defaults, as in a case management system that was not told otherwise."""
    config = {"bootstrap.servers": login.bootstrap, "security.protocol": login.security_protocol}
    if login.username:
        config |= {
            "sasl.mechanisms": login.mechanism or "SCRAM-SHA-512",
            "sasl.username": login.username,
            "sasl.password": login.password or "",
        }
    return config


def publish_with_librdkafka(
    login: Login,
    topic: str,
    events: Sequence[Envelope[Any]],
    timeout_s: float = 60.0,
    *,
    partition: int | None = None,
) -> list[tuple[int, int]]:
    """Produce each event (key: its council; to ``partition`` when given) and wait for every
    delivery report; returns the (partition, offset) of each, in order. Blocking: run it in
    a thread."""
    from confluent_kafka import KafkaException, Producer

    producer = Producer(librdkafka_config(login))
    delivered: dict[int, tuple[int, int]] = {}
    errors: list[str] = []

    def report(i: int) -> Any:
        def on_delivery(err: Any, msg: Any) -> None:
            if err is not None:
                errors.append(f"event {i}: {err}")
            else:
                delivered[i] = (msg.partition(), msg.offset())

        return on_delivery

    # librdkafka's "unassigned": its partitioner chooses.
    where = -1 if partition is None else partition
    for i, event in enumerate(events):
        while True:
            try:
                producer.produce(
                    topic, value=encode(event), key=event.key, headers=list(headers(event)),
                    on_delivery=report(i), partition=where,
                )  # fmt: skip
                break
            except BufferError:  # the local queue is full: let deliveries drain it
                producer.poll(0.1)
        producer.poll(0)
    left = producer.flush(timeout_s)
    if left or errors:
        raise KafkaException(f"{left} message(s) not delivered; errors: {errors[:5]}")
    return [delivered[i] for i in range(len(events))]


# --- Kafka's Java console producer ------------------------------------------------------------


def java_client_properties(login: Login) -> str:
    """A kafka-clients properties file (``--producer.config``): the login only."""
    lines = [f"security.protocol={login.security_protocol}"]
    if login.username:
        module = (
            "org.apache.kafka.common.security.plain.PlainLoginModule"
            if login.mechanism == "PLAIN"
            else "org.apache.kafka.common.security.scram.ScramLoginModule"
        )
        lines += [
            f"sasl.mechanism={login.mechanism}",
            f'sasl.jaas.config={module} required username="{login.username}" '
            f'password="{login.password}";',
        ]
    return "\n".join(lines) + "\n"


def console_line(event: Envelope[Any]) -> str:
    """``h1:v1,h2:v2<TAB>key<TAB>value``: the console producer's format with
    ``parse.headers=true`` and ``parse.key=true`` (none of the values holds a tab or newline)."""
    head = ",".join(f"{k}:{v.decode()}" for k, v in headers(event))
    key = event.key.decode() if event.key else "null"
    value = encode(event).decode()
    assert "\t" not in value and "\n" not in value
    return f"{head}\t{key}\t{value}"


def java() -> str:
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").is_file():
        return str(Path(home) / "bin" / "java")
    found = shutil.which("java")
    if found is None:
        raise FileNotFoundError("java not found: the console producer needs a Java 17+ runtime")
    return found


def publish_with_console_producer(
    login: Login, topic: str, events: Sequence[Envelope[Any]], workdir: Path
) -> None:
    """Pipe the events through ``org.apache.kafka.tools.ConsoleProducer`` (the jars `make
    setup` fetched), with its default producer settings (acks=all, murmur2 for keys)."""
    if not any(KAFKA_LIBS.glob("kafka-tools-*.jar")):
        raise FileNotFoundError(f"no kafka-tools jar in {KAFKA_LIBS}: run `make setup`")
    config = workdir / "console-producer.properties"
    config.touch(mode=0o600)
    config.write_text(java_client_properties(login))
    lines = "".join(console_line(e) + "\n" for e in events)
    done = subprocess.run(
        [
            java(), "-cp", f"{KAFKA_LIBS}/*", "org.apache.kafka.tools.ConsoleProducer",
            "--bootstrap-server", login.bootstrap, "--topic", topic,
            "--producer.config", str(config),
            "--property", "parse.key=true", "--property", "parse.headers=true",
            "--property", "null.marker=null",
        ],
        input=lines.encode(), capture_output=True, timeout=180,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(
            f"console producer exited with {done.returncode}: {done.stderr.decode()[-2000:]}"
        )
