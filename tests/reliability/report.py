"""Render docs/reliability.md from the figures the reliability suite recorded.

    .venv/bin/python -m tests.reliability.report [--results DIR] [--out FILE]

Reads ``.local/reliability/*.json`` (``$AR_RELIABILITY_RESULTS``), written by every test of
tests/reliability after it ran (tests/reliability/conftest.py), and writes the document.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
RESULTS = Path(os.environ.get("AR_RELIABILITY_RESULTS") or REPO / ".local" / "reliability")
OUT = REPO / "docs" / "reliability.md"
# The hand-written parts (how to read the figures, the bugs found): the results go where
# the template says <!-- results -->.
TEMPLATE = Path(__file__).with_name("report_template.md")
MARK = "<!-- results -->"

# The order.
ORDER = (
    "test_projector_crashes",
    "test_server_restarts",
    "test_duplicates",
    "test_hostile_input",
    "test_poison_values",
    "test_letter_faults",
    "test_health_probes",
    "test_broker_loss",
    "test_quorum_loss",
)
TITLES = {
    "test_projector_crashes": "Crash: projector SIGKILLed while events stream in",
    "test_server_restarts": "Restarts: Kafka broker, then PostgreSQL, mid-stream",
    "test_duplicates": "Duplicates: producer retries and the same events again",
    "test_hostile_input": "Hostile input: 10,000+ malformed and invalid messages",
    "test_poison_values": "Poison values: U+0000 in every string of every event type",
    "test_letter_faults": "Letters: crash points and an SMTP outage",
    "test_health_probes": "Health: readiness through a broker and a database outage",
    # tests/cluster (`make test-cluster`), recorded in the same folder.
    "test_broker_loss": "Cluster: the busiest of three brokers SIGKILLed, twice",
    "test_quorum_loss": "Cluster: two of three brokers lost (the quorum with them)",
}
# Figures shown in the summary table, and those not repeated in the details.
SUMMARY = ("events_published", "applied", "dead_lettered", "lost_events", "double_counted")
NOT_DETAILED = {
    "fault", "injection", "times", "server_commands", "kill_times", "bad_kinds",
    "cluster_commands",
}  # fmt: skip


def _load(results: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    suite_file = results / "suite.json"
    suite = json.loads(suite_file.read_text()) if suite_file.is_file() else {}
    tests = [json.loads(p.read_text()) for p in sorted(results.glob("test_*.json"))]
    rank = {m: i for i, m in enumerate(ORDER)}
    tests.sort(key=lambda t: (rank.get(t["module"], len(ORDER)), t["test"]))
    return suite, tests


def _n(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if value is None:
        return "–"
    return str(value)


def _lost(f: dict[str, Any]) -> str:
    if "lost_events" not in f:
        return "–"
    return f"{_n(f['lost_events'])} events, {_n(f.get('lost_counts', 0))} counts"


def _emails(f: dict[str, Any]) -> str:
    if "emails_per_council_year" not in f:
        return ""
    per = f["emails_per_council_year"]
    if isinstance(per, dict):
        shown = ", ".join(f"{n} council-years: {k}" for k, n in per.items())
    else:
        shown = "every council-year: " + " or ".join(f"{n} email(s)" for n in per)
    return f"{_n(f.get('emails'))} emails; {shown}"


def _detail(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_detail(v)}" for k, v in value.items())
    if isinstance(value, list):
        return "; ".join(_detail(v) for v in value)
    return _n(value)


def render(suite: dict[str, Any], tests: list[dict[str, Any]]) -> str:
    out: list[str] = []
    if suite:
        passed = sum(1 for t in tests if t["outcome"] == "passed")
        out.append(
            f"## The last run\n\n{suite.get('started_at', '?')} at commit "
            f"`{suite.get('commit', '?')}`, on {suite.get('cpus', '?')} CPUs: "
            f"**{passed} of {len(tests)} tests passed**; the reliability suite took "
            f"**{suite.get('seconds', 0):.0f} s** in all (setup and teardown included).\n"
        )
    out.append(
        "## Summary\n\n"
        "| fault | injected | how many times | published | applied | dead-lettered "
        "| lost | double-counted | emails | outcome | test time |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|"
    )
    for t in tests:
        f = t["figures"]
        title = TITLES.get(t["module"], t["test"])
        cells = [
            title,
            str(f.get("injection", "")).replace("|", "\\|"),
            _n(f.get("times")),
            *(_n(f.get(k)) for k in SUMMARY[:3]),
            _lost(f),
            _n(f.get("double_counted")),
            _emails(f) or "–",
            t["outcome"].upper(),
            f"{t['seconds']:.0f} s",
        ]
        out.append("| " + " | ".join(cells) + " |")
    out.append("")
    for t in tests:
        f = t["figures"]
        out.append(f"## {TITLES.get(t['module'], t['test'])}\n")
        out.append(
            f"`tests/reliability/{t['module']}.py::{t['test']}` — **{t['outcome']}** "
            f"in {t['seconds']:.0f} s ({t['finished_at']}, commit `{t['commit']}`)\n"
        )
        out.append(f"- fault: {f.get('fault', '?')}")
        out.append(f"- injected: {f.get('injection', '?')}")
        out.append(f"- how many times: {_n(f.get('times'))}")
        for key, value in f.items():
            if key not in NOT_DETAILED:
                out.append(f"- {key.replace('_', ' ')}: {_detail(value)}")
        if "bad_kinds" in f:
            out.append("\nBad messages by kind (each must be dead-lettered with its reason):\n")
            out.append("| kind | messages |\n|---|---|")
            out.extend(f"| {k} | {_n(n)} |" for k, n in f["bad_kinds"].items())
        if "kill_times" in f:
            out.append("\nKills (seconds after the stream started; records waiting then):\n")
            out.append(", ".join(f"{k['at_s']} s ({_n(k['lag'])})" for k in f["kill_times"]))
        if t.get("error"):
            out.append(f"\nFailure:\n\n```\n{t['error'][-1500:]}\n```")
        out.append("")
    return TEMPLATE.read_text().replace(MARK, "\n".join(out).strip())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    suite, tests = _load(args.results)
    if not tests:
        raise SystemExit(
            f"no results in {args.results}: run the suite first (pytest tests/reliability)"
        )
    args.out.write_text(render(suite, tests))
    print(f"wrote {args.out} from {len(tests)} test results in {args.results}")


if __name__ == "__main__":
    main()
