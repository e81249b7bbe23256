"""Replication and client timeouts come from the settings, not from contracts/topics.py."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from contracts.topics import TOPICS
from services.platform.kafka.admin import ensure_topics, with_replication
from services.platform.kafka.connection import bootstrap_servers, client_timeouts
from services.platform.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_no_topic_hard_codes_its_replication() -> None:
    for spec in TOPICS:
        assert "min.insync.replicas" not in spec.config, spec.name
        assert "replication" not in " ".join(spec.config), spec.name


@pytest.mark.parametrize("min_isr", [1, 2])
def test_every_topic_gets_the_settings_min_insync_replicas_and_keeps_its_own_config(
    min_isr: int,
) -> None:
    for spec in TOPICS:
        replicated = with_replication(spec, min_isr)
        assert replicated.config == {**spec.config, "min.insync.replicas": str(min_isr)}
        assert (replicated.name, replicated.partitions) == (spec.name, spec.partitions)
        assert "min.insync.replicas" not in spec.config  # the declaration is not changed


@pytest.mark.parametrize(("factor", "min_isr"), [(1, 2), (3, 4), (3, 0)])
def test_a_min_insync_replicas_no_write_could_meet_is_refused_before_kafka_is_asked(
    factor: int, min_isr: int
) -> None:
    # No broker listens on port 9: the refusal must come first, not a connection timeout.
    with pytest.raises(ValueError, match=r"min\.insync\.replicas"):
        asyncio.run(
            ensure_topics(
                "127.0.0.1:9", replication_factor=factor, min_insync_replicas=min_isr, wait_s=0
            )
        )


def test_defaults_keep_one_broker_and_bound_every_wait_in_seconds() -> None:
    s = Settings.model_construct()
    assert (s.kafka_replication_factor, s.kafka_min_insync_replicas) == (1, 1)
    assert client_timeouts(s) == {"request_timeout_ms": 15_000, "metadata_max_age_ms": 10_000}
    assert s.kafka_delivery_timeout_ms == 30_000


def test_a_cluster_bootstrap_is_given_to_faststream_as_one_address_per_item() -> None:
    s = Settings(kafka_bootstrap="127.0.0.1:19092,127.0.0.1:19102,127.0.0.1:19112")
    assert bootstrap_servers(s) == ["127.0.0.1:19092", "127.0.0.1:19102", "127.0.0.1:19112"]


def test_the_services_brokers_get_the_list_and_the_timeouts() -> None:
    for app in ("services/projector/app.py", "services/letters/app.py"):
        text = (ROOT / app).read_text()
        call = re.search(
            r"KafkaBroker\((.*?)\)  # fmt: skip|KafkaBroker\((.*?)\n    \)", text, re.S
        )
        assert call is not None, app
        body = call[1] or call[2]
        assert "bootstrap_servers(settings)" in body, app
        assert "**client_timeouts(settings)" in body, app


def test_the_local_cluster_scripts_derive_replication_from_the_broker_count() -> None:
    kafka_sh = (ROOT / "infra/kafka/kafka.sh").read_text()
    ctl_sh = (ROOT / "infra/ctl.sh").read_text()
    assert "default.replication.factor=${REPLICATION_FACTOR}" in kafka_sh
    assert "min.insync.replicas=${MIN_ISR}" in kafka_sh
    assert (
        'REPLICATION_FACTOR="${AR_KAFKA_REPLICATION_FACTOR:-$(( BROKERS < 3 ? BROKERS : 3 ))}"'
        in kafka_sh
    )
    assert 'AR_KAFKA_REPLICATION_FACTOR="$REPLICATION_FACTOR"' in kafka_sh  # to the bootstrap
    assert "KAFKA_BROKERS=3" in ctl_sh  # make test-cluster
