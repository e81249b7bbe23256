"""Kafka over TLS on the local broker's TLS listeners (infra/kafka/tls.sh, KAFKA_TLS=1).

SASL_SSL: the principals' SCRAM logins, inside TLS. SSL: no password; the client
certificate is the login (CN=<principal> maps to User:<principal>, whose ACLs apply). The
broker's certificate is verified against the project's test CA; a client given another CA
is refused, and says which setting to fix.
"""

from __future__ import annotations

import os
import subprocess
from datetime import date
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaConnectionError, TopicAuthorizationFailedError

from contracts.codec import decode, encode
from contracts.topics import FACTS
from services.platform.kafka.publisher import EventPublisher
from services.platform.kafka.security import sasl_kwargs
from services.platform.kafka.tls import (
    KafkaTlsError,
    KafkaTlsSettings,
    check_broker_tls,
    ssl_context,
    ssl_kwargs,
)
from services.platform.settings import Principal, Settings, as_principal
from tests.support.casework import council, decided
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


def over_sasl_ssl(stack: Stack, principal: Principal, address: str) -> Settings:
    return as_principal(stack.settings, principal).model_copy(
        update={"kafka_bootstrap": address, "kafka_security_protocol": "SASL_SSL"}
    )


def over_ssl(stack: Stack, address: str) -> Settings:
    """No SCRAM user: on the SSL listener the client certificate says who the client is."""
    return stack.settings.model_copy(
        update={
            "kafka_bootstrap": address, "kafka_security_protocol": "SSL",
            "kafka_username": None, "kafka_password": None,
        }
    )  # fmt: skip


def certificate_of(principal: str) -> KafkaTlsSettings:
    return KafkaTlsSettings(
        ca_file=CA,
        cert_file=TLS_DIR / "clients" / f"{principal}.crt",
        key_file=TLS_DIR / "clients" / f"{principal}.key",
    )


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
    tls = KafkaTlsSettings(ca_file=CA)
    cms = over_sasl_ssl(stack, "cms", listeners[0])
    events = [council("TLS", "District"), decided("TLS", "T-1", date(2019, 6, 1), "upheld")]
    async with EventPublisher(
        cms.kafka_bootstrap, facts_topic=stack.facts, **sasl_kwargs(cms), **ssl_kwargs(cms, tls)
    ) as publisher:
        positions = await publisher.publish_many(events)
    assert len(positions) == 2

    projector = over_sasl_ssl(stack, "projector", listeners[0])
    consumer = AIOKafkaConsumer(
        bootstrap_servers=projector.kafka_bootstrap, **sasl_kwargs(projector),
        **ssl_kwargs(projector, tls), enable_auto_commit=False,
    )  # fmt: skip
    values = await read_back(consumer, stack.facts)
    assert sorted(decode(v).event_id for v in values) == sorted(e.event_id for e in events)


async def test_over_ssl_the_client_certificate_is_the_principal_and_its_acls_apply(
    stack: Stack, listeners: tuple[str, str]
) -> None:
    plain = over_ssl(stack, listeners[1])
    assert sasl_kwargs(plain) == {"security_protocol": "SSL"}  # no password anywhere
    event = council("MTL", "County")
    producer = AIOKafkaProducer(
        bootstrap_servers=plain.kafka_bootstrap, **sasl_kwargs(plain),
        **ssl_kwargs(plain, certificate_of("cms")), acks="all", enable_idempotence=True,
    )  # fmt: skip
    await producer.start()
    try:
        await producer.send_and_wait(stack.facts, encode(event), key=event.key)
    finally:
        await producer.stop()

    as_projector = AIOKafkaConsumer(
        bootstrap_servers=plain.kafka_bootstrap, **sasl_kwargs(plain),
        **ssl_kwargs(plain, certificate_of("projector")), enable_auto_commit=False,
    )  # fmt: skip
    assert [decode(v).event_id for v in await read_back(as_projector, stack.facts)] == [
        event.event_id
    ]
    # cms may write the facts, not read them: its certificate gets User:cms's ACLs.
    as_cms = AIOKafkaConsumer(
        bootstrap_servers=plain.kafka_bootstrap, **sasl_kwargs(plain),
        **ssl_kwargs(plain, certificate_of("cms")), enable_auto_commit=False,
    )  # fmt: skip
    with pytest.raises(TopicAuthorizationFailedError):
        await read_back(as_cms, stack.facts)


async def test_a_broker_certificate_the_ca_did_not_sign_is_refused_with_the_setting_to_fix(
    stack: Stack, listeners: tuple[str, str], tmp_path: Path
) -> None:
    wrong = KafkaTlsSettings(ca_file=other_ca(tmp_path))
    cms = over_sasl_ssl(stack, "cms", listeners[0])
    producer = AIOKafkaProducer(
        bootstrap_servers=cms.kafka_bootstrap, **sasl_kwargs(cms), **ssl_kwargs(cms, wrong)
    )
    # aiokafka alone says only that it could not bootstrap...
    with pytest.raises(KafkaConnectionError, match="Unable to bootstrap"):
        await producer.start()
    await producer.stop()
    # ...the check says why, and what to change.
    with pytest.raises(KafkaTlsError) as refused:
        await check_broker_tls(cms.kafka_bootstrap, ssl_context(wrong), wrong)
    message = str(refused.value)
    assert f"the Kafka broker at {listeners[0]} presented a certificate" in message
    assert f"AR_KAFKA_SSL_CA_FILE={wrong.ca_file} did not sign" in message
    assert "set AR_KAFKA_SSL_CA_FILE to the CA that signed the broker's certificate" in message
    # The right CA passes the same check.
    right = KafkaTlsSettings(ca_file=CA)
    await check_broker_tls(cms.kafka_bootstrap, ssl_context(right), right)


async def test_the_ssl_listener_refuses_a_client_without_a_certificate_and_says_so(
    stack: Stack, listeners: tuple[str, str], tmp_path: Path
) -> None:
    no_certificate = KafkaTlsSettings(ca_file=CA)
    with pytest.raises(KafkaTlsError, match="requires a client certificate: set AR_KAFKA_SSL_CERT"):
        await check_broker_tls(listeners[1], ssl_context(no_certificate), no_certificate)
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
    stranger = KafkaTlsSettings(ca_file=CA, cert_file=cert, key_file=key)
    with pytest.raises(KafkaTlsError, match=f"refused the client certificate .*{cert}"):
        await check_broker_tls(listeners[1], ssl_context(stranger), stranger)
