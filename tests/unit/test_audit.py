"""The dependency audit's verdict (tools/audit.py): findings fail, an audit of nothing fails."""

from __future__ import annotations

import json

from tools.audit import Finding, Report, parse, verdict

CLEAN = {
    "dependencies": [
        {"name": "jinja2", "version": "3.1.6", "vulns": []},
        {"name": "pyyaml", "version": "6.0.4", "vulns": []},
    ],
    "fixes": [],
}
VULNERABLE = {
    "dependencies": [
        {
            "name": "jinja2",
            "version": "3.1.4",
            "vulns": [
                {
                    "id": "GHSA-q2x7-8rv6-6q7h",
                    "fix_versions": ["3.1.5"],
                    "aliases": ["CVE-2024-56201"],
                    "description": "sandbox breakout",
                }
            ],
        },
        {"name": "pyyaml", "version": "6.0.4", "vulns": []},
    ],
    "fixes": [],
}
UNREACHABLE = {
    "dependencies": [
        {"name": "jinja2", "skip_reason": "Dependency not found on PyPI and could not be audited"},
        {"name": "pyyaml", "version": "6.0.4", "vulns": []},
    ],
    "fixes": [],
}


def test_a_clean_report_passes_and_counts_what_it_audited() -> None:
    report = parse(json.dumps(CLEAN))
    assert report.audited == ("jinja2==3.1.6", "pyyaml==6.0.4")
    code, lines = verdict(report)
    assert code == 0
    assert "2 locked distributions audited" in lines[0]


def test_a_vulnerability_fails_with_its_fix_even_when_unavailability_is_tolerated() -> None:
    report = parse(json.dumps(VULNERABLE))
    assert report.findings == (Finding("jinja2", "3.1.4", "GHSA-q2x7-8rv6-6q7h", ("3.1.5",)),)
    code, lines = verdict(report, unavailable="warn")
    assert code == 1
    assert any("jinja2==3.1.4: GHSA-q2x7-8rv6-6q7h (fixed in 3.1.5)" in line for line in lines)


def test_a_distribution_that_could_not_be_audited_fails_unless_told_to_warn() -> None:
    report = parse(json.dumps(UNREACHABLE))
    assert report.not_audited == {"jinja2": "Dependency not found on PyPI and could not be audited"}
    code, lines = verdict(report)
    assert code == 1
    assert "1 of 2 locked distributions could not be audited" in lines[0]
    code, lines = verdict(report, unavailable="warn")
    assert code == 0
    assert any(line.startswith("WARNING") and "NOT audited" in line for line in lines)


def test_no_report_at_all_is_not_a_pass() -> None:
    assert verdict(None)[0] == 1
    assert verdict(Report())[0] == 1  # an empty lock audits nothing either
    assert verdict(None, unavailable="warn")[0] == 0
