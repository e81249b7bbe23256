"""Liveness, readiness and Prometheus metrics over HTTP: one small server for every service.

    GET /health/live   200 while the service's event loop runs; 503 when it has been stuck
                       for longer than ``loop_stall_s``. Nothing else: a broker or database
                       outage never fails it (restarting the process would not help).
    GET /health/ready  200 when every readiness check passed on its last round and that
                       round is recent; 503 with the failing checks otherwise (and while
                       the service starts, and when the loop is stuck).
    GET /health        the same as /health/ready (the single path of earlier versions).
    GET /metrics       Prometheus text format (the process's default registry).

The answers are JSON: ``{"status": "up"|"down", "service": ..., "checks": {name: {"ok":
bool, "detail": str, "age_s": float}}}``. The server runs in a thread of its own, so it
answers (503) when the loop is stuck rather than not at all; the checks themselves run on the
service's loop (its database pool and Kafka clients live there), every ``interval_s``, each
bounded by ``timeout_s``, and the probes only read their last results: a probe never adds
load on PostgreSQL or Kafka.

    health = Health("projector", [("postgresql", ping_db), ("kafka", ping_kafka)], ...)
    server = serve_health(health, host, port)     # thread; server.close() at shutdown
    task = asyncio.create_task(health.run())      # on the service's loop
    # or HealthEndpoint(health, host, port), which does both; .close() at shutdown

A service with an HTTP server of its own (the web site) can answer its own routes with
``health.liveness()`` and ``health.readiness()`` (``Report.ok``, ``Report.body``) and run
``health.run()`` in its lifespan. ``python -m services.platform.health URL`` is the
containers' healthcheck (exit 0 on a 200).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import sys
import threading
import time
import urllib.request
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import Field
from pydantic_settings import BaseSettings

Check = Callable[[], Awaitable[str]]
"""A readiness check: returns a short detail when ready; raises (``NotReady`` or anything
else, which is reported as its type and message) when not."""
Clock = Callable[[], float]

HEARTBEAT_S = 1.0


class NotReady(Exception):
    """A readiness check's reason, said as an operator reads it."""


@dataclass(frozen=True, slots=True)
class Result:
    ok: bool
    detail: str
    at: float  # the clock's time of the round


@dataclass(frozen=True, slots=True)
class Report:
    ok: bool
    body: dict[str, Any]


class Health:
    """The last results of a service's readiness checks and the heartbeat of its loop."""

    def __init__(
        self,
        service: str,
        checks: Sequence[tuple[str, Check]],
        *,
        loop_stall_s: float = 30.0,
        interval_s: float = 5.0,
        timeout_s: float = 5.0,
        clock: Clock = time.monotonic,
    ) -> None:
        self.service = service
        self.checks = list(checks)
        self.loop_stall_s = loop_stall_s
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self.clock = clock
        self.last_beat = clock()
        self.results: dict[str, Result] = {}
        self._lock = threading.Lock()  # the HTTP thread reads what the loop writes

    async def run(self) -> None:
        """Beat and check until cancelled (a task on the service's loop)."""
        beating = asyncio.create_task(self._beat())
        try:
            while True:
                await self.check_once()
                await asyncio.sleep(self.interval_s)
        finally:
            beating.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beating

    async def _beat(self) -> None:
        while True:
            self.last_beat = self.clock()
            await asyncio.sleep(HEARTBEAT_S)

    async def check_once(self) -> None:
        """One round: every check in order, each bounded by ``timeout_s``."""
        for name, check in self.checks:
            try:
                detail = await asyncio.wait_for(check(), self.timeout_s)
                result = Result(True, detail, self.clock())
            except NotReady as e:
                result = Result(False, str(e), self.clock())
            except TimeoutError:
                result = Result(False, f"no answer within {self.timeout_s:g} s", self.clock())
            except Exception as e:
                result = Result(False, f"{type(e).__name__}: {e}"[:300], self.clock())
            with self._lock:
                self.results[name] = result

    def stalled_s(self) -> float | None:
        """How long the loop has not beaten, when that is longer than ``loop_stall_s``."""
        silent = self.clock() - self.last_beat
        return silent if silent > self.loop_stall_s else None

    def liveness(self) -> Report:
        stalled = self.stalled_s()
        body: dict[str, Any] = {
            "status": "down" if stalled else "up",
            "service": self.service,
            "loop_last_beat_s": round(self.clock() - self.last_beat, 1),
        }
        if stalled:
            body["detail"] = f"the event loop has not run for {stalled:.0f} s"
        return Report(stalled is None, body)

    def readiness(self) -> Report:
        now = self.clock()
        with self._lock:
            results = dict(self.results)
        stale_after = self.interval_s + self.timeout_s * (len(self.checks) + 1)
        checks: dict[str, Any] = {}
        ok = bool(results) and self.stalled_s() is None
        for name, _ in self.checks:
            result = results.get(name)
            if result is None:
                checks[name] = {"ok": False, "detail": "not checked yet (starting)"}
                ok = False
                continue
            age = now - result.at
            fresh = age <= stale_after
            detail = result.detail if fresh else f"last checked {age:.0f} s ago: {result.detail}"
            checks[name] = {"ok": result.ok and fresh, "detail": detail, "age_s": round(age, 1)}
            ok = ok and result.ok and fresh
        body: dict[str, Any] = {"status": "up" if ok else "down", "service": self.service}
        stalled = self.stalled_s()
        if stalled:
            body["detail"] = f"the event loop has not run for {stalled:.0f} s"
        body["checks"] = checks
        return Report(ok, body)


class Stall:
    """ "Lag and nothing applied for the configured time": how long work has been waiting
    with no progress. ``progressed()`` when work was done; ``check(waiting)`` raises
    NotReady once ``waiting > 0`` has lasted ``max_s`` without progress."""

    def __init__(self, max_s: float, what: str, setting: str, clock: Clock = time.monotonic):
        self.max_s, self.what, self.setting, self.clock = max_s, what, setting, clock
        self.since = clock()

    def progressed(self) -> None:
        self.since = self.clock()

    def check(self, waiting: int) -> str:
        if waiting <= 0:
            self.since = self.clock()
            return f"no {self.what} waiting"
        idle = self.clock() - self.since
        if idle > self.max_s:
            raise NotReady(
                f"{waiting} {self.what} waiting and nothing applied for {idle:.0f} s "
                f"(more than {self.setting}={self.max_s:g})"
            )
        return f"{waiting} {self.what} waiting; last progress {idle:.0f} s ago"


class HealthServer:
    """The HTTP server of ``serve_health``, in its own daemon thread."""

    def __init__(self, httpd: ThreadingHTTPServer) -> None:
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, name="health-http", daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)


def serve_health(health: Health, host: str, port: int) -> HealthServer:
    """Listen on ``host:port`` (port 0: any free port, see ``HealthServer.port``)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0].rstrip("/")
            if path == "/health/live":
                self._report(health.liveness())
            elif path in ("/health/ready", "/health"):
                self._report(health.readiness())
            elif path == "/metrics":
                self._send(200, generate_latest(), CONTENT_TYPE_LATEST)
            else:
                self._send(404, b"not found\n", "text/plain")

        def _report(self, report: Report) -> None:
            body = json.dumps(report.body).encode() + b"\n"
            self._send(200 if report.ok else 503, body, "application/json")

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # a probe every few seconds is not worth a log line

    class Server(ThreadingHTTPServer):
        address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        daemon_threads = True

    return HealthServer(Server((host, port), Handler))


def metrics_port_field(default: int) -> Any:
    """The ``metrics_port`` field with a service's default port."""
    return Field(
        default=default,
        ge=0,
        le=65535,
        description="Port of /health/live, /health/ready, /health and /metrics (0: off)",
    )


class HealthSettings(BaseSettings):
    """The health server's settings, the same for every service under its own prefix
    (``AR_PROJECTOR_METRICS_HOST``, ``AR_LETTERS_METRICS_HOST``...); each service sets its
    port's default and adds its ``health_max_lag_seconds``."""

    metrics_host: str = Field(
        default="127.0.0.1",
        description="Address the health and metrics server binds (0.0.0.0: every interface, "
        "as in docker-compose.yml)",
    )
    metrics_port: int = metrics_port_field(0)
    health_loop_stall_seconds: float = Field(
        default=30.0,
        gt=0,
        description="/health/live fails when the event loop has not run for this long",
    )
    health_check_interval_seconds: float = Field(
        default=5.0, gt=0, description="How often the readiness checks run"
    )


class HealthEndpoint:
    """A service's running health: the checks' task on its loop and the HTTP thread."""

    def __init__(self, health: Health, host: str, port: int) -> None:
        self.health = health
        self.server = serve_health(health, host, port)
        self.task = asyncio.create_task(health.run(), name=f"{health.service}-health")

    @classmethod
    def start(
        cls, service: str, checks: Sequence[tuple[str, Check]], settings: HealthSettings
    ) -> HealthEndpoint | None:
        """Serve the service's health as its settings say (None when the port is 0)."""
        if not settings.metrics_port:
            return None
        health = Health(
            service,
            checks,
            loop_stall_s=settings.health_loop_stall_seconds,
            interval_s=settings.health_check_interval_seconds,
        )
        return cls(health, settings.metrics_host, settings.metrics_port)

    async def close(self) -> None:
        self.server.close()
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m services.platform.health URL``: 0 when URL answers 200 within 5 s, else 1
    (a container's healthcheck: the image has no curl)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1 or not args[0].startswith("http://"):
        print("usage: python -m services.platform.health http://HOST:PORT/PATH", file=sys.stderr)
        return 2
    try:
        with urllib.request.urlopen(args[0], timeout=5) as response:  # noqa: S310 - http only
            return 0 if response.status == 200 else 1
    except (OSError, ValueError) as e:
        print(f"{args[0]}: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
