"""Kafka over TLS on the local broker's TLS listeners (infra/kafka/tls.sh, KAFKA_TLS=1).

SASL_SSL: the principals' SCRAM logins, inside TLS. SSL: no password; the client
certificate is the login (CN=<principal> maps to User:<principal>, whose ACLs apply). The
broker's certificate is verified against the project's test CA; a client given another CA
is refused, and says which setting to fix.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaConnectionError, TopicAuthorizationFailedError

from contracts.codec import decode, encode
from contracts.topics import FACTS
from services.platform.kafka.publisher import event_publisher
from services.platform.kafka.security import client_kwargs, sasl_kwargs
from services.platform.kafka.tls import KafkaTlsError, check_broker_tls
from services.platform.settings import Principal, Settings, as_principal
from tests.support.casework import CLOSE_2019_20, council, decided
from tests.support.http import until_ready
from tests.support.mail import Mail, free_port, letters_env, wait_states
from tests.support.stack import REPO, Stack

TLS_DIR = REPO / ".local" / "kafka" / "tls"
CA = TLS_DIR / "ca.crt"


def port(settings: Settings, variable: str, offset: int) -> int:
    """The TLS listener's port: as ctl.sh exports it, else kafka.sh's default."""
    base = int(settings.kafka_bootstrap.rpartition(":")[2])
    return int(os.environ.get(variable) or base + offset)


@pytest.fixture
def listeners(settings: Settings) -> tuple[str, str]:
    """(SASL_SSL, SSL) bootstrap addresses; fails (not skips) without a TLS listener."""
    sasl_ssl = f"127.0.0.1:{port(settings, 'KAFKA_SASL_SSL_PORT', 2)}"
    ssl_only = f"127.0.0.1:{port(settings, 'KAFKA_SSL_PORT', 3)}"
    if not CA.is_file():
        pytest.fail(f"no test CA at {CA}: run `make up` (KAFKA_TLS=1, the default)", pytrace=False)
    return sasl_ssl, ssl_only


def over_sasl_ssl(stack: Stack, principal: Principal, address: str, ca: Path = CA) -> Settings:
    return as_principal(stack.settings, principal).model_copy(
        update={
            "kafka_bootstrap": address, "kafka_security_protocol": "SASL_SSL",
            "kafka_ssl_ca_file": ca,
        }
    )  # fmt: skip


def over_ssl(stack: Stack, address: str, principal: str | None) -> Settings:
    """No SCRAM user: on the SSL listener the client certificate says who the client is."""
    clients = TLS_DIR / "clients"
    return stack.settings.model_copy(
        update={
            "kafka_bootstrap": address, "kafka_security_protocol": "SSL",
            "kafka_username": None, "kafka_password": None, "kafka_ssl_ca_file": CA,
            "kafka_ssl_cert_file": clients / f"{principal}.crt" if principal else None,
            "kafka_ssl_key_file": clients / f"{principal}.key" if principal else None,
        }
    )  # fmt: skip


async def read_back(consumer: AIOKafkaConsumer, topic: str) -> list[bytes]:
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(FACTS.partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        got = await consumer.getmany(*tps, timeout_ms=5000)
        return [r.value for batch in got.values() for r in batch if r.value is not None]
    finally:
        await consumer.stop()


def other_ca(tmp_path: Path) -> Path:
    """A CA that signed nothing the broker has."""
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", str(tmp_path / "other-ca.key"),
         "-out", str(tmp_path / "other-ca.crt"), "-days", "2", "-subj", "/CN=some other CA"],
        check=True, capture_output=True,
    )  # fmt: skip
    return tmp_path / "other-ca.crt"


async def test_the_publisher_and_a_consumer_work_over_sasl_ssl(
    stack: Stack, listeners: tuple[str, str]
) -> None:
    cms = over_sasl_ssl(stack, "cms", listeners[0])
    # Casework only: the register is the office's (its publisher signs it; cms has no key).
    events = [
        decided("TLS", "T-1", date(2019, 6, 1), "upheld"),
        decided("TLS", "T-2", date(2019, 7, 1), "not_upheld"),
    ]
    async with event_publisher(cms) as publisher:
        positions = await publisher.publish_many(events)
    assert len(positions) == 2

    projector = over_sasl_ssl(stack, "projector", listeners[0])
    consumer = AIOKafkaConsumer(**client_kwargs(projector), enable_auto_commit=False)
    values = await read_back(consumer, stack.facts)
    assert sorted(decode(v).event_id for v in values) == sorted(e.event_id for e in events)


async def test_over_ssl_the_client_certificate_is_the_principal_and_its_acls_apply(
    stack: Stack, listeners: tuple[str, str]
) -> None:
    cms = over_ssl(stack, listeners[1], "cms")
    assert set(sasl_kwargs(cms)) == {"security_protocol", "ssl_context"}  # no password anywhere
    event = council("MTL", "County")
    producer = AIOKafkaProducer(**client_kwargs(cms), acks="all", enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(stack.facts, encode(event), key=event.key)
    finally:
        await producer.stop()

    as_projector = AIOKafkaConsumer(
        **client_kwargs(over_ssl(stack, listeners[1], "projector")), enable_auto_commit=False
    )
    assert [decode(v).event_id for v in await read_back(as_projector, stack.facts)] == [
        event.event_id
    ]
    # cms may write the facts, not read them: its certificate gets User:cms's ACLs.
    as_cms = AIOKafkaConsumer(**client_kwargs(cms), enable_auto_commit=False)
    with pytest.raises(TopicAuthorizationFailedError):
        await read_back(as_cms, stack.facts)


async def test_a_broker_certificate_the_ca_did_not_sign_is_refused_with_the_setting_to_fix(
    stack: Stack, listeners: tuple[str, str], tmp_path: Path
) -> None:
    wrong = over_sasl_ssl(stack, "cms", listeners[0], ca=other_ca(tmp_path))
    producer = AIOKafkaProducer(**client_kwargs(wrong))
    # aiokafka alone says only that it could not bootstrap...
    with pytest.raises(KafkaConnectionError, match="Unable to bootstrap"):
        await producer.start()
    await producer.stop()
    # ...the check says why, and what to change.
    with pytest.raises(KafkaTlsError) as refused:
        await check_broker_tls(wrong)
    message = str(refused.value)
    assert f"the Kafka broker at {listeners[0]} presented a certificate" in message
    assert f"AR_KAFKA_SSL_CA_FILE={wrong.kafka_ssl_ca_file} did not sign" in message
    assert "set AR_KAFKA_SSL_CA_FILE to the CA that signed the broker's certificate" in message
    # The right CA passes the same check.
    await check_broker_tls(over_sasl_ssl(stack, "cms", listeners[0]))


async def test_the_ssl_listener_refuses_a_client_without_a_certificate_and_says_so(
    stack: Stack, listeners: tuple[str, str], tmp_path: Path
) -> None:
    no_certificate = over_ssl(stack, listeners[1], None)
    with pytest.raises(KafkaTlsError, match="requires a client certificate: set AR_KAFKA_SSL_CERT"):
        await check_broker_tls(no_certificate)
    # A certificate from another CA is refused too, naming the file.
    ca = other_ca(tmp_path)
    key, cert = tmp_path / "stranger.key", tmp_path / "stranger.crt"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2",
         "-subj", "/O=annual-review/OU=principals/CN=projector", "-CA", str(ca),
         "-CAkey", str(tmp_path / "other-ca.key")],
        check=True, capture_output=True,
    )  # fmt: skip
    stranger = no_certificate.model_copy(
        update={"kafka_ssl_cert_file": cert, "kafka_ssl_key_file": key}
    )
    with pytest.raises(KafkaTlsError, match=f"refused the client certificate .*{cert}"):
        await check_broker_tls(stranger)


# --- every service over TLS ------------------------------------------------------------

COUNCILS = ("TA1", "TA2", "TA3")


def service_tls_env(protocol: str, address: str, principal: str, ca: Path = CA) -> dict[str, str]:
    """A service process on a TLS listener: SASL_SSL logs in with its SCRAM password (from
    AR_PRINCIPAL's secret), SSL with its own client certificate."""
    env = {
        "AR_KAFKA_BOOTSTRAP": address,
        "AR_KAFKA_SECURITY_PROTOCOL": protocol,
        "AR_KAFKA_SSL_CA_FILE": str(ca),
    }
    if protocol == "SSL":
        env["AR_KAFKA_SSL_CERT_FILE"] = str(TLS_DIR / "clients" / f"{principal}.crt")
        env["AR_KAFKA_SSL_KEY_FILE"] = str(TLS_DIR / "clients" / f"{principal}.key")
    return env


@pytest.mark.parametrize("protocol", ["SASL_SSL", "SSL"])
async def test_the_projector_and_the_letter_service_run_over_tls_and_a_closed_year_is_mailed(
    stack: Stack, listeners: tuple[str, str], mail: Mail, protocol: str
) -> None:
    address = listeners[0] if protocol == "SASL_SSL" else listeners[1]
    health = free_port()
    stack.start(
        "services.projector",
        AR_PROJECTOR_METRICS_PORT=str(health),
        AR_PROJECTOR_HEALTH_CHECK_INTERVAL_SECONDS="0.5",
        **service_tls_env(protocol, address, "projector"),
    )
    letters = stack.start(
        "services.letters", **letters_env(mail, **service_tls_env(protocol, address, "letters"))
    )
    # The operator publishes and closes the year over the same listener.
    operator = (
        over_sasl_ssl(stack, "operator", address)
        if protocol == "SASL_SSL"
        else over_ssl(stack, address, "operator")
    )
    events = [council(c, "District") for c in COUNCILS]
    events += [
        decided(c, f"{c}-{i}", date(2019, 6, 1), "upheld") for c in COUNCILS for i in range(3)
    ]
    async with event_publisher(operator) as publisher:
        await publisher.publish_many(events)
        await publisher.close_year(CLOSE_2019_20, producer="tests")
    await wait_states(stack, {"sent": len(COUNCILS)})
    assert mail.per_letter() == Counter({f"{c}/2019-20/annual-review/v1": 1 for c in COUNCILS})
    snapshot = await stack.fetch(
        "SELECT council, upheld FROM readmodel.year_snapshot_councils ORDER BY 1"
    )
    assert [(r["council"], r["upheld"]) for r in snapshot] == [(c, 3) for c in COUNCILS]
    # Readiness asks Kafka over TLS too (its probe is one of the service's clients).
    checks = (await until_ready(health))["checks"]
    assert checks["kafka"]["ok"] and checks["progress"]["detail"] == "no event(s) waiting"
    assert letters.alive()


@pytest.mark.parametrize("module", ["services.projector", "services.letters"])
async def test_a_service_given_another_ca_does_not_start_and_says_which_setting_to_fix(
    stack: Stack, listeners: tuple[str, str], tmp_path: Path, module: str
) -> None:
    wrong = other_ca(tmp_path)
    service = stack.start(
        module, **service_tls_env("SASL_SSL", listeners[0], module.split(".")[1], ca=wrong)
    )
    code = await asyncio.to_thread(service.process.wait, 60)
    assert code == 2, service.tail()
    log = service.log.read_text()
    assert "cannot connect to Kafka over TLS; not starting" in log
    assert f"the Kafka broker at {listeners[0]} presented a certificate that the CA in " in log
    assert f"AR_KAFKA_SSL_CA_FILE={wrong} did not sign" in log
    assert "set AR_KAFKA_SSL_CA_FILE to the CA that signed the broker's certificate" in log
    assert "Traceback" not in log  # one sentence, not a stack trace


def test_the_cli_given_another_ca_publishes_nothing_and_says_which_setting_to_fix(
    stack: Stack, listeners: tuple[str, str], tmp_path: Path
) -> None:
    wrong = other_ca(tmp_path)
    events = tmp_path / "events.jsonl"
    casework = decided("CLI", "C-1", date(2019, 6, 1), "upheld")  # cms publishes casework only
    events.write_text(json.dumps(casework.model_dump(mode="json")) + "\n")
    done = subprocess.run(
        [str(Path(sys.executable).with_name("annual-review")), "publish", str(events)],
        env={
            **os.environ, **stack.env, **service_tls_env("SASL_SSL", listeners[0], "cms", wrong),
            "AR_PRINCIPAL": "cms", "COLUMNS": "400",
        },
        capture_output=True, text=True, timeout=60, cwd=REPO,
    )  # fmt: skip
    assert done.returncode == 3, done.stderr  # UNAVAILABLE: nothing was published
    said = " ".join(done.stderr.split())
    assert f"AR_KAFKA_SSL_CA_FILE={wrong} did not sign" in said
    assert "set AR_KAFKA_SSL_CA_FILE to the CA that signed the broker's certificate" in said
    assert "nothing was published" in said
    assert "Kafka over TLS" in said  # the hint: where the settings are explained
