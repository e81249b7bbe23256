"""`python -m tools.audit [LOCK]`: the dependency audit of `make lint` (docs/security.md).

Runs pip-audit over a hashed lock (default requirements-dev.lock, which holds the runtime lock
too) without building a virtualenv, and turns its JSON report into a verdict:

- a known vulnerability in a locked distribution fails, unless its ID is in ``ACCEPTED``;
- a distribution pip-audit could not audit (its service unreachable, or the package unknown to
  it), or no report at all, fails too: an audit that checked nothing must not read as a pass.
  ``AR_AUDIT_UNAVAILABLE=warn`` turns that one case into a loud warning, for machines that
  cannot reach the vulnerability service; vulnerabilities still fail.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_LOCK = ROOT / "requirements-dev.lock"
PIP_AUDIT = Path(sys.executable).with_name("pip-audit")

# Vulnerabilities reviewed and accepted, by ID (PYSEC-…, GHSA-…), each with the reason; the
# same reason goes in docs/security.md, "Dependencies". Empty: the audit accepts nothing.
ACCEPTED: dict[str, str] = {}

UNAVAILABLE_ENV = "AR_AUDIT_UNAVAILABLE"


@dataclass(frozen=True)
class Finding:
    name: str
    version: str
    vuln_id: str
    fix_versions: tuple[str, ...]


@dataclass(frozen=True)
class Report:
    audited: tuple[str, ...] = ()
    findings: tuple[Finding, ...] = ()
    # distribution -> why pip-audit skipped it
    not_audited: dict[str, str] = field(default_factory=dict)


def parse(report_json: str) -> Report:
    """pip-audit's ``--format json`` report."""
    audited: list[str] = []
    findings: list[Finding] = []
    not_audited: dict[str, str] = {}
    for dep in json.loads(report_json)["dependencies"]:
        if "skip_reason" in dep:
            not_audited[dep["name"]] = dep["skip_reason"]
            continue
        audited.append(f"{dep['name']}=={dep['version']}")
        findings.extend(
            Finding(dep["name"], dep["version"], vuln["id"], tuple(vuln.get("fix_versions", ())))
            for vuln in dep.get("vulns", ())
        )
    return Report(tuple(audited), tuple(findings), not_audited)


def verdict(report: Report | None, *, unavailable: str = "fail") -> tuple[int, list[str]]:
    """The exit code and the lines to print. ``report`` is None when pip-audit wrote none."""
    if report is not None and report.findings:
        lines = [f"{len(report.findings)} known vulnerabilities in the lock:"]
        lines += [
            f"  {f.name}=={f.version}: {f.vuln_id}"
            + (f" (fixed in {', '.join(f.fix_versions)})" if f.fix_versions else " (no fix yet)")
            for f in report.findings
        ]
        lines.append(
            "upgrade the pin in pyproject.toml and run `make lock`, or review the finding and "
            "add it to ACCEPTED in tools/audit.py and to docs/security.md"
        )
        return 1, lines
    if report is None or report.not_audited or not report.audited:
        if report is None:
            lines = ["pip-audit produced no report (see its errors above): nothing was audited"]
        else:
            lines = [
                f"{len(report.not_audited)} of "
                f"{len(report.not_audited) + len(report.audited)} locked distributions could "
                "not be audited, e.g. " + next(iter(report.not_audited.values()), "")
            ]
        if unavailable == "warn":
            lines.append(
                f"WARNING: {UNAVAILABLE_ENV}=warn, so this passes; the dependencies are NOT audited"
            )
            return 0, lines
        lines.append(
            "the vulnerability service (PyPI's JSON API) must be reachable; on a machine that "
            f"cannot reach it, {UNAVAILABLE_ENV}=warn downgrades this to a warning"
        )
        return 1, lines
    return 0, [f"{len(report.audited)} locked distributions audited: no known vulnerability"]


def run_pip_audit(lock: Path) -> Report | None:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "audit.json"
        ignored = [arg for vuln_id in sorted(ACCEPTED) for arg in ("--ignore-vuln", vuln_id)]
        # --disable-pip with a fully hashed lock: pip-audit reads the pins as they are, with no
        # virtualenv and no resolution. Exit status 1 means findings or a failure; the report
        # (or its absence) tells which.
        ran = subprocess.run(
            [
                str(PIP_AUDIT),
                "--requirement",
                str(lock),
                "--require-hashes",
                "--disable-pip",
                "--progress-spinner",
                "off",
                "--format",
                "json",
                "--output",
                str(out),
                *ignored,
            ],
            check=False,
            capture_output=True,
            text=True,
        )
        # Its summary says "No known vulnerabilities found" even when it audited nothing: only
        # its errors are passed on, and the verdict below is the one to read.
        for line in (ran.stdout + ran.stderr).splitlines():
            if line.strip() and "No known vulnerabilities found" not in line:
                print(line, file=sys.stderr)
        return parse(out.read_text()) if out.is_file() and out.stat().st_size else None


def main(argv: list[str]) -> int:
    lock = Path(argv[0]) if argv else DEFAULT_LOCK
    code, lines = verdict(run_pip_audit(lock), unavailable=os.environ.get(UNAVAILABLE_ENV, "fail"))
    for line in lines:
        print(f"[audit] {line}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
