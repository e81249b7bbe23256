"""``python -m bench.web``: the public site under load, runnable alone (about 3.5 minutes).

    .venv/bin/python -m bench.web                  # 200 requests/s from 20 clients, 30 s a row
    .venv/bin/python -m bench.web --seconds 5      # a quick look

A namespace (its own database) is filled with one published year of 344 councils: the
publication tables and a sent letter per council, written directly as the owner, because
this measures the site, not the pipeline (the pipeline's own rows are above). The site runs
as a process (`python -m services.web`, principal web, one uvicorn worker); the load
generator runs in another process in the same run: 20 keep-alive HTTP/1.1 connections,
each sending on a fixed schedule (open loop: a request's latency is measured from the
moment it was due, so a slow server cannot hide its queue), for each row:

1. a static file from the same server (the baseline: no application code);
2. the council page, full responses (no conditional requests);
3. the council page rendered on every request (the site's page cache off), at the rate and
   at half of it;
4. the year's CSV, full responses;
5. the council page with If-None-Match: 304s (HTTP caching).

Reports p50, p99, max, achieved rate, errors, and the CPU used by the server and by the load
generator itself (share of one core), and writes the rows into docs/benchmarks.md between
the ``web`` markers (``--no-write``: print only).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import asyncpg

from contracts.financial_year import FinancialYear
from services.domain.letter_inputs import LetterInputs
from services.platform.namespace import create_namespace, drop_namespace, service_env
from services.platform.settings import Settings, get_settings
from services.simulator.roster import councils_for

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "benchmarks.md"
START, END = "<!-- web:begin -->", "<!-- web:end -->"
YEAR = 2019
TICKS = os.sysconf("SC_CLK_TCK")


# --- the data -------------------------------------------------------------------------------


def _inputs(code: str, name: str, group: str, rng: random.Random) -> dict[str, Any]:
    upheld, not_upheld = rng.randint(0, 30), rng.randint(0, 20)
    outcomes = rng.randint(0, upheld + 3)
    counts = {
        "upheld": upheld, "not_upheld": not_upheld, "advice_given": rng.randint(0, 9),
        "closed_after_initial_enquiries": rng.randint(0, 20), "incomplete_or_invalid": 2,
        "referred_back_for_local_resolution": rng.randint(0, 15),
        "satisfactory_remedies": rng.randint(0, upheld), "compliance_outcomes": outcomes,
        "compliance_implemented": max(outcomes - rng.randint(0, 1), 0),
    }  # fmt: skip
    return asdict(
        LetterInputs(
            council=code, council_name=name, group=group, year="2019-20", counts=counts,
            population=rng.randint(60_000, 1_500_000),
            averages={"uphold_rate": [61, 100], "compliance_rate": [99, 100],
                      "satisfactory_remedy_rate": [13, 100], "upheld_per_100k": None},
            group_councils=60, addressee=None, letter_date="2020-07-22",
            publication_date="2020-07-29",
            signatory={"name": "Michael King", "titles": ["Ombudsman"]},
        )
    )  # fmt: skip


async def fill(ns: Settings, councils: int) -> str:
    """One published year; returns the code of the council whose page is measured."""
    records = councils_for(FinancialYear(YEAR), councils)
    rng = random.Random(1)
    conn = await asyncpg.connect(ns.database_url)
    try:
        async with conn.transaction():
            await conn.execute(
                "INSERT INTO publication.published_years VALUES ($1, $2, $3, $4::date, "
                "$4::date::timestamp AT TIME ZONE 'Europe/London', $5)",
                YEAR, uuid.uuid4(), date(2020, 7, 22), date(2020, 7, 29),
                datetime(2020, 7, 28, 23, tzinfo=UTC),
            )  # fmt: skip
            for group in (
                "County",
                "District",
                "Metropolitan Borough",
                "Unitary",
                "London Borough",
            ):
                await conn.execute(
                    "INSERT INTO publication.published_groups VALUES ($1, $2, 'mean', 60, "
                    "61, 100, 99, 100, 13, 100, NULL, NULL)",
                    YEAR, group,
                )  # fmt: skip
            await conn.executemany(
                "INSERT INTO publication.published_councils VALUES ($1, $2, $3, $4, NULL, NULL)",
                [(YEAR, r.code, r.name, r.group.value) for r in records],
            )
            await conn.executemany(
                "INSERT INTO letters.outbox (council, financial_year, source, state, message_id, "
                "context, html_body, pdf, sent_at) VALUES ($1, $2, 'snapshot', 'sent', $3, "
                "$4::jsonb, '<p>letter</p>', '%PDF-1.7', now())",
                [
                    (r.code, YEAR, f"<{r.code}@bench>",
                     json.dumps(_inputs(r.code, r.name, r.group.value, rng)))
                    for r in records
                ],
            )  # fmt: skip
    finally:
        await conn.close()
    districts = sorted(r.code for r in records if r.group.value == "District")
    return districts[len(districts) // 2]


# --- the load generator (its own process) ---------------------------------------------------


@dataclass
class Row:
    name: str
    path: str
    rate: float
    seconds: float
    clients: int
    headers: dict[str, str]


async def _client(
    host: str, port: int, request: bytes, due: list[float], out: list[tuple[float, int]]
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        for t in due:
            delay = t - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if length:
                await reader.readexactly(length)
            out.append((time.perf_counter() - t, status))
    finally:
        writer.close()


async def _load(host: str, port: int, row: Row) -> dict[str, Any]:
    extra = "".join(f"{k}: {v}\r\n" for k, v in row.headers.items())
    request = f"GET {row.path} HTTP/1.1\r\nHost: {host}:{port}\r\n{extra}\r\n".encode()
    total = int(row.rate * row.seconds)
    start = time.perf_counter() + 0.5
    interval = 1 / row.rate
    schedule = [start + i * interval for i in range(total)]
    per_client = [schedule[i :: row.clients] for i in range(row.clients)]
    results: list[tuple[float, int]] = []
    cpu0, wall0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(_client(host, port, request, d, results) for d in per_client))
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    latencies = sorted(r[0] * 1000 for r in results)
    statuses: dict[int, int] = {}
    for _, s in results:
        statuses[s] = statuses.get(s, 0) + 1
    return {
        "requests": len(results),
        "achieved_rate": len(results) / (wall - 0.5),
        "p50_ms": statistics.median(latencies),
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1],
        "max_ms": latencies[-1],
        "statuses": statuses,
        "generator_cpu_share": cpu / wall,
    }


def _load_process(host: str, port: int, row: Row, queue: Any) -> None:
    queue.put(asyncio.run(_load(host, port, row)))


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def measure(host: str, port: int, server_pid: int, row: Row) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    cpu0, t0 = _cpu_seconds(server_pid), time.perf_counter()
    proc = ctx.Process(target=_load_process, args=(host, port, row, queue))
    proc.start()
    result: dict[str, Any] = queue.get(timeout=row.seconds + 120)
    proc.join(30)
    result["server_cpu_share"] = (_cpu_seconds(server_pid) - cpu0) / (time.perf_counter() - t0)
    return {"row": row.name, "path": row.path, **result}


# --- the run --------------------------------------------------------------------------------


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str]]:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            r.read()
            return r.status, dict(r.headers.items())
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers.items())


def start_site(ns: Settings, port: int, log: Path, **env: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.web"],
        cwd=REPO,
        env={**os.environ, **service_env(ns, "web"), "AR_WEB_PORT": str(port),
             "AR_LOG_FORMAT": "json", **env},
        stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    for _ in range(300):
        try:
            if _get(f"http://127.0.0.1:{port}/health/ready")[0] == 200:
                return proc
        except OSError:
            pass
        if proc.poll() is not None:
            raise RuntimeError(f"the site stopped: {log.read_text()[-2000:]}")
        time.sleep(0.2)
    raise TimeoutError("the site did not start")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    base = get_settings()
    ns = await create_namespace(base, f"bench_web_{uuid.uuid4().hex[:8]}")
    out: list[dict[str, Any]] = []
    try:
        code = await fill(ns, args.councils)
        log_dir = REPO / "out" / "bench"
        log_dir.mkdir(parents=True, exist_ok=True)
        page = f"/councils/{code}"
        for cached in (True, False):
            port = _free_port()
            site = start_site(
                ns, port, log_dir / f"web-{'cached' if cached else 'uncached'}.log",
                AR_WEB_PAGE_CACHE="true" if cached else "false",
            )  # fmt: skip
            try:
                status, headers = _get(f"http://127.0.0.1:{port}{page}")
                assert status == 200, status
                rows = (
                    [
                        Row("static file (baseline)", "/static/site.css", args.rate,
                            args.seconds, args.clients, {}),
                        Row("council page, full responses", page, args.rate, args.seconds,
                            args.clients, {}),
                        Row("year CSV, full responses", "/data/2019-20.csv", args.rate,
                            args.seconds, args.clients, {}),
                        Row("council page, If-None-Match (304)", page, args.rate, args.seconds,
                            args.clients, {"If-None-Match": headers["etag"]}),
                    ]
                    if cached
                    else [
                        Row("council page, rendered every request (page cache off)", page,
                            args.rate, args.seconds, args.clients, {}),
                        Row("the same at half the rate", page, args.rate / 2, args.seconds,
                            args.clients, {}),
                    ]
                )  # fmt: skip
                for row in rows:
                    print(f"web bench: {row.name} ...", file=sys.stderr, flush=True)
                    result = measure("127.0.0.1", port, site.pid, row)
                    print(json.dumps(result), file=sys.stderr, flush=True)
                    out.append(result)
            finally:
                site.terminate()
                site.wait(30)
    finally:
        await drop_namespace(base, ns)
    return out


def table(results: list[dict[str, Any]], args: argparse.Namespace) -> str:
    lines = [
        f"Web site (`python -m bench.web`): {args.rate:g} requests/s from {args.clients} "
        f"keep-alive clients for {args.seconds:g} s a row, open loop, one published year of "
        f"{args.councils} councils, one uvicorn process; {os.cpu_count()} cores shared.",
        "",
        "| row | requests | achieved req/s | p50 | p99 | max | statuses | server CPU | "
        "load generator CPU |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        statuses = ", ".join(f"{k}: {v}" for k, v in sorted(r["statuses"].items()))
        lines.append(
            f"| {r['row']} (`{r['path']}`) | {r['requests']:,} | {r['achieved_rate']:.0f} | "
            f"{r['p50_ms']:.1f} ms | {r['p99_ms']:.1f} ms | {r['max_ms']:.1f} ms | {statuses} | "
            f"{r['server_cpu_share'] * 100:.0f}% | {r['generator_cpu_share'] * 100:.0f}% |"
        )
    lines.append("")
    lines.append(f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.")
    return "\n".join(lines)


def write(text: str) -> None:
    doc = DOC.read_text()
    if START not in doc:
        doc = doc.rstrip() + "\n\n## Web site\n\n" + START + "\n" + END + "\n"
    head, rest = doc.split(START, 1)
    _, tail = rest.split(END, 1)
    DOC.write_text(head + START + "\n" + text + "\n" + END + tail)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.web", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--rate", type=float, default=200.0, help="requests per second (200)")
    p.add_argument("--clients", type=int, default=20, help="connections (20)")
    p.add_argument("--seconds", type=float, default=30.0, help="seconds a row (30)")
    p.add_argument("--councils", type=int, default=344, help="councils in the year (344)")
    p.add_argument("--no-write", action="store_true", help="print only")
    args = p.parse_args(argv)
    results = asyncio.run(run(args))
    text = table(results, args)
    print(text)
    if not args.no_write:
        write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
