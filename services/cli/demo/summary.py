"""What the demo did, as printed at its end: the councils, the events, the letters sent and
where they are, Mansfield's figures beside its group's averages, and the web site's check."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.table import Table

from services.cli.common import ExitCode, fail, out
from services.cli.demo.site import Site
from services.cli.demo.year import YEAR


@dataclass(frozen=True, slots=True)
class Summary:
    namespace: str
    kept: bool
    councils: int
    source: str
    events: int
    letters_sent: int
    letters: int
    emails_in_maildir: int
    files: int
    mansfield: dict[str, Any] | None  # as `annual-review stats --json` gives them
    mansfield_code: str | None
    seconds: float
    site: Site | None


def print_summary(s: Summary, out_dir: Path) -> None:
    """The summary on stdout; exit code 4 when Mansfield's page lacks one of its figures."""
    out.print(f"\n[bold green]Annual Review {YEAR}: done in {s.seconds:.0f} s[/]", soft_wrap=True)
    out.print(f"councils: {s.councils} ({s.source}); casework events: {s.events:,}", soft_wrap=True)
    out.print(
        f"letters sent: {s.letters_sent} of {s.letters}; "
        f"emails accepted by the SMTP server: {s.emails_in_maildir}",
        soft_wrap=True,
    )
    out.print(
        f"letters written to {out_dir / 'letters'} ({s.files} files: .txt, .html, .pdf); "
        f"emails in {out_dir / 'mail'}",
        soft_wrap=True,
    )
    if s.mansfield:
        out.print(mansfield_table(s.mansfield, s.mansfield_code))
        out.print(
            f"the letter: {out_dir / 'letters'}/{YEAR}-{s.mansfield_code}-v1.pdf", soft_wrap=True
        )
    if s.site and s.site.missing is not None:
        if s.site.missing:
            fail(
                f"the Mansfield page {s.site.page} lacks: " + " / ".join(s.site.missing),
                hint=f"see {out_dir / 'logs' / 'web.log'}",
                code=ExitCode.PARTIAL,
            )
        out.print(
            f"web: fetched {s.site.page}: 50% upheld, 100% compliance, 0% satisfactory "
            "remedies, as in the letter",
            soft_wrap=True,
        )
    if s.kept:
        out.print(f"kept: database and topic prefix '{s.namespace}'", soft_wrap=True)


def mansfield_table(m: dict[str, Any], code: str | None) -> Table:
    t = Table(
        "statistic",
        "Mansfield",
        "District Councils average",
        "based on",
        title=f"Mansfield District Council ({code}), {YEAR}",
    )
    c, g = m["counts"], m["group_average"]
    t.add_row(
        "complaints upheld",
        f"{m['uphold_rate_percent']}%",
        f"{g['uphold_rate_percent']}%",
        f"{c['upheld']} upheld of {m['detailed_investigations']} detailed investigations",
    )
    t.add_row(
        "compliance",
        f"{m['compliance_rate_percent']}%",
        f"{g['compliance_rate_percent']}%",
        f"{c['compliance_outcomes']} outcome(s)",
    )
    t.add_row(
        "satisfactory remedies",
        f"{m['satisfactory_remedy_rate_percent']}%",
        f"{g['satisfactory_remedy_rate_percent']}%",
        f"{c['satisfactory_remedies']} of {c['upheld']} upheld",
    )
    return t
