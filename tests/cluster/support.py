"""This checkout's Kafka cluster (infra/kafka/kafka.sh with KAFKA_BROKERS=3), for the tests
that lose brokers: which node leads what (the admin client's metadata), SIGKILL a node, and
start the lost ones again.

Node n listens on KAFKA_PORT+10*(n-1) and is node.id n (infra/README.md); before anything is
killed the generated server.properties of every node must name exactly those ports, so a
test never kills a broker it was not given.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient

from services.platform.kafka.security import sasl_kwargs
from services.platform.settings import Settings
from tests.support.stack import REPO

KAFKA_SH = "infra/kafka/kafka.sh"


class NotOurCluster(RuntimeError):
    """The brokers the tests use are not this checkout's cluster: killing them is refused."""


@dataclass
class Cluster:
    settings: Settings
    brokers: int
    port: int
    root: Path = REPO
    log: list[str] = field(default_factory=list)

    @classmethod
    def from_environment(cls, settings: Settings) -> Cluster:
        brokers = int(os.environ.get("KAFKA_BROKERS", "1"))
        if brokers < 3:
            raise NotOurCluster(
                f"KAFKA_BROKERS={brokers}: these tests need the three-broker cluster "
                "(`make test-cluster`)"
            )
        port = int(settings.kafka_bootstrap.split(",")[0].rsplit(":", 1)[1])
        return cls(settings, brokers, port)

    def node_port(self, node: int) -> int:
        return self.port + 10 * (node - 1)

    def props(self, node: int) -> Path:
        return self.root / ".local" / "kafka-cluster" / f"node-{node}" / "server.properties"

    def check_ours(self) -> None:
        for node in range(1, self.brokers + 1):
            props = self.props(node)
            text = props.read_text() if props.is_file() else ""
            if not re.search(rf"^advertised\.listeners=BROKER://127\.0\.0\.1:{self.node_port(node)}\b", text, re.M):  # fmt: skip  # noqa: E501
                raise NotOurCluster(
                    f"node {node}: {props} does not listen on {self.node_port(node)}: "
                    "not this checkout's cluster, not touching it"
                )
            if not re.search(rf"^node\.id={node}$", text, re.M):
                raise NotOurCluster(f"{props} is not node {node}")

    def _run(self, *args: str, timeout: float = 180.0) -> str:
        started = time.monotonic()
        env = {**os.environ, "KAFKA_BROKERS": str(self.brokers), "KAFKA_PORT": str(self.port)}
        done = subprocess.run(
            [str(self.root / KAFKA_SH), *args],
            cwd=self.root, env=env, capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip
        out = (done.stdout + done.stderr).strip()
        self.log.append(
            f"kafka.sh {' '.join(args)} ({time.monotonic() - started:.1f}s): {out[-300:]}"
        )
        if done.returncode != 0:
            raise RuntimeError(f"kafka.sh {' '.join(args)} failed ({done.returncode}):\n{out}")
        return out

    def kill(self, node: int) -> None:
        """SIGKILL node ``node``: no controlled shutdown, no leadership handed over."""
        self._run("kill", str(node))

    def start_all(self) -> None:
        """Start every node that is not running, wait for them, bootstrap (harmless if all run)."""
        self._run("start")

    async def admin(self) -> AIOKafkaAdminClient:
        client = AIOKafkaAdminClient(
            bootstrap_servers=self.settings.kafka_bootstrap,
            request_timeout_ms=5_000,
            metadata_max_age_ms=1_000,
            **sasl_kwargs(self.settings),
        )
        await asyncio.wait_for(client.start(), 15)
        return client

    async def partitions(self, topics: list[str]) -> list[dict[str, Any]]:
        """Every partition of ``topics``: topic, partition, leader, replicas, isr."""
        client = await self.admin()
        try:
            described = await asyncio.wait_for(client.describe_topics(topics), 15)
        finally:
            await client.close()
        return [
            {
                "topic": t["topic"],
                "partition": p["partition"],
                "leader": p["leader"],
                "replicas": list(p["replicas"]),
                "isr": list(p["isr"]),
            }
            for t in described
            for p in t["partitions"]
        ]

    async def busiest_leader(self, topics: list[str]) -> tuple[int, dict[int, int]]:
        """The node that leads the most partitions of ``topics``, and the count per node."""
        leaders = Counter(p["leader"] for p in await self.partitions(topics))
        node, _ = max(sorted(leaders.items()), key=lambda kv: kv[1])
        return node, dict(sorted(leaders.items()))

    async def wait_leaders_without(
        self, lost: set[int], topics: list[str], timeout: float = 60.0
    ) -> float:
        """Seconds until every partition of ``topics`` has a leader that is not in ``lost``."""
        started = time.monotonic()
        last: Any = None
        while time.monotonic() - started < timeout:
            try:
                parts = await self.partitions(topics)
                if all(p["leader"] >= 0 and p["leader"] not in lost for p in parts):
                    return round(time.monotonic() - started, 1)
                last = [p for p in parts if p["leader"] < 0 or p["leader"] in lost][:3]
            except Exception as exc:  # a metadata request to the dead node: ask again
                last = exc
            await asyncio.sleep(0.2)
        raise TimeoutError(f"no new leaders within {timeout} s: {last!r}")

    async def wait_fully_replicated(self, topics: list[str], timeout: float = 120.0) -> float:
        """Seconds until every replica of every partition of ``topics`` is in sync again."""
        started = time.monotonic()
        last: Any = None
        while time.monotonic() - started < timeout:
            try:
                parts = await self.partitions(topics)
                behind = [p for p in parts if sorted(p["isr"]) != sorted(p["replicas"])]
                if not behind:
                    return round(time.monotonic() - started, 1)
                last = behind[:3]
            except Exception as exc:
                last = exc
            await asyncio.sleep(0.5)
        raise TimeoutError(f"replicas not back in sync within {timeout} s: {last!r}")
