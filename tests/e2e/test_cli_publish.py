"""The installed ``annual-review`` command against the real local Kafka (`make up`).

Each test module gets its own topics (a unique AR_TOPIC_PREFIX on the shared broker), so
the end offsets it reads move only with what the command published. When Kafka does not
answer, the tests FAIL with "run `make up` first".
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from contracts.topics import FACTS, TOPICS
from services.platform.kafka.admin import ensure_topics, wait_for_kafka
from services.platform.kafka.security import client_kwargs, process_sasl_kwargs
from services.platform.settings import Settings

REPO = Path(__file__).resolve().parents[2]
SCRIPT = Path(sys.executable).with_name("annual-review")
CLI = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "services.cli.main"]
KAFKA_WAIT_S = 10.0


@dataclasses.dataclass(frozen=True)
class Cluster:
    settings: Settings
    env: dict[str, str]

    @property
    def facts(self) -> str:
        return self.settings.topic(FACTS)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*CLI, *args],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=180,
        )

    def end_offsets(self) -> dict[int, int]:
        async def read() -> dict[int, int]:
            consumer = AIOKafkaConsumer(**client_kwargs(self.settings))
            await consumer.start()
            try:
                tps = [TopicPartition(self.facts, p) for p in range(FACTS.partitions)]
                ends = await consumer.end_offsets(tps)
                return {tp.partition: offset for tp, offset in ends.items()}
            finally:
                await consumer.stop()

        return asyncio.run(read())


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    base = Settings()
    try:
        asyncio.run(wait_for_kafka(base.kafka_bootstrap, wait_s=KAFKA_WAIT_S))
    except TimeoutError as exc:
        pytest.fail(
            f"Kafka at {base.kafka_bootstrap} (AR_KAFKA_BOOTSTRAP) is not reachable ({exc}): "
            "run `make up` first",
            pytrace=False,
        )
    prefix = f"{base.topic_prefix}e2e-cli-{uuid.uuid4().hex[:8]}."
    settings = base.model_copy(update={"topic_prefix": prefix})
    topics = [dataclasses.replace(t, name=settings.topic(t)) for t in TOPICS]
    asyncio.run(ensure_topics(settings.kafka_bootstrap, topics))
    env = {
        **os.environ,
        "AR_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "AR_TOPIC_PREFIX": prefix,
        "COLUMNS": "200",
        "NO_COLOR": "1",
    }
    try:
        yield Cluster(settings, env)
    finally:
        asyncio.run(_delete_topics(settings.kafka_bootstrap, [t.name for t in topics]))


async def _delete_topics(bootstrap: str, names: list[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **process_sasl_kwargs())
    await admin.start()
    try:
        await admin.delete_topics(names)
    finally:
        await admin.close()


def _simulated(cluster: Cluster, path: Path, events: int = 200) -> list[str]:
    result = cluster.cli(
        "simulate", "--events", str(events), "--seed", "2024", "--invalid-share", "0",
        "--out", str(path), "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return path.read_text().splitlines()


def _grown(before: dict[int, int], after: dict[int, int]) -> dict[int, int]:
    return {p: after[p] - before.get(p, 0) for p in after if after[p] != before.get(p, 0)}


def test_a_valid_file_is_published_with_its_offsets(cluster: Cluster, tmp_path: Path) -> None:
    path = tmp_path / "valid.jsonl"
    lines = _simulated(cluster, path)
    before = cluster.end_offsets()

    result = cluster.cli("publish", str(path), "--json")

    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    assert report["topic"] == cluster.facts
    assert report["published"] == len(lines)
    assert sum(report["by_type"].values()) == len(lines)
    grown = _grown(before, cluster.end_offsets())
    assert grown == {p["partition"]: p["events"] for p in report["partitions"]}
    for p in report["partitions"]:
        assert p["first_offset"] == before.get(p["partition"], 0)
        assert p["last_offset"] - p["first_offset"] + 1 == p["events"]


def test_a_file_with_bad_lines_publishes_nothing(cluster: Cluster, tmp_path: Path) -> None:
    lines = _simulated(cluster, tmp_path / "valid.jsonl", events=20)
    decision = next(json.loads(x) for x in lines if '"type":"DecisionRecorded"' in x)
    decision["data"].update(outcome="not_upheld", satisfactory_remedy=True)
    lines[1] = '{"event_id": "not JSON at all'  # line 2
    lines[3] = json.dumps(decision)  # line 4: a remedy on a decision not upheld
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(lines) + "\n")
    before = cluster.end_offsets()

    table = cluster.cli("publish", str(bad))
    as_json = cluster.cli("publish", str(bad), "--json")

    assert table.returncode == 1
    assert "nothing was published" in table.stderr
    rows = [row for row in table.stderr.splitlines() if row.startswith("│")]
    assert rows[0].split("│")[1].strip() == "2" and "not_json" in rows[0]
    line_4 = next(i for i, row in enumerate(rows) if row.split("│")[1].strip() == "4")
    assert "invalid_data" in rows[line_4]
    assert "satisfactory_remedy" in "".join(rows[line_4:])
    assert as_json.returncode == 1
    report = json.loads(as_json.stdout)
    assert report["published"] == 0
    assert [(i["line"], i["reason"]) for i in report["invalid"]] == [
        (2, "not_json"),
        (4, "invalid_data"),
    ]
    assert (
        "satisfactory_remedy is only meaningful on an upheld decision"
        in (report["invalid"][1]["detail"])
    )
    assert cluster.end_offsets() == before


def test_councils_import_and_close_year(cluster: Cluster, tmp_path: Path) -> None:
    councils = tmp_path / "councils.csv"
    assert cluster.cli("councils", "sample", "--out", str(councils)).returncode == 0
    before = cluster.end_offsets()

    imported = cluster.cli("councils", "import", str(councils), "--json")

    assert imported.returncode == 0, imported.stderr
    assert json.loads(imported.stdout)["published"] == 12
    after_import = cluster.end_offsets()
    assert sum(_grown(before, after_import).values()) == 12

    closed = cluster.cli(
        "close-year", "2019-20", "--letter-date", "2020-07-22", "--publication-date",
        "2020-07-29", "--signatory-name", "Michael King",
        "--signatory-title", "Local Government and Social Care Ombudsman",
        "--signatory-title", "Chair, Commission for Local Administration in England", "--json",
    )  # fmt: skip

    assert closed.returncode == 0, closed.stderr
    close = json.loads(closed.stdout)
    uuid.UUID(close["close_id"])
    assert sorted(p["partition"] for p in close["partitions"]) == list(range(FACTS.partitions))
    assert _grown(after_import, cluster.end_offsets()) == dict.fromkeys(range(FACTS.partitions), 1)


def test_unreachable_kafka_says_run_make_up(cluster: Cluster, tmp_path: Path) -> None:
    path = tmp_path / "valid.jsonl"
    _simulated(cluster, path, events=5)
    result = subprocess.run(
        [*CLI, "publish", str(path)],
        cwd=REPO,
        env={**cluster.env, "AR_KAFKA_BOOTSTRAP": "127.0.0.1:1"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 3
    assert "make up" in result.stderr
