"""Per-letter render cost in one process: ``python -m bench.render_letters``.

    .venv/bin/python -m bench.render_letters                 # 5 runs of 12 letters
    .venv/bin/python -m bench.render_letters --runs 9 --out /tmp/letters   # also save them

Renders a sample of letters of every format (2019-20, 2022-23, 2023-24; a few councils
each, zero cases included) with the three calls ``render_letter`` makes, as a render worker
does (text, HTML, and the PDF from its own page), and prints the median over runs of each
artefact's milliseconds per letter: wall time, and this process's CPU time, which other
work on a shared machine disturbs less. The first letter of a process pays for loading
WeasyPrint and its fonts: that "cold" figure is given apart and kept out of the medians,
as a render worker pays it once, not once per letter.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import date
from fractions import Fraction
from pathlib import Path

from contracts.financial_year import FinancialYear
from contracts.groups import ComparisonGroup
from contracts.values import ChiefExecutive, Signatory
from services.domain.letter import Letter, build_letter
from services.domain.statistics import CouncilYear, CouncilYearCounts, GroupAverages
from services.letters.narratives import shipped

SIGNATORY = Signatory(
    name="Michael King",
    titles=(
        "Local Government and Social Care Ombudsman",
        "Chair, Commission for Local Administration in England",
    ),
)
# (upheld, not upheld, satisfactory remedies, compliance outcomes, implemented, population)
SHAPES = (
    (1, 1, 0, 1, 1, 110_000),
    (14, 9, 3, 12, 11, 1_100_000),
    (0, 0, 0, 0, 0, None),  # zero cases: no chart at all
    (6, 2, 1, 0, 0, 95_000),
)
YEARS = (2019, 2022, 2023, 2024)  # formats 2020, 2021 (before and after per 100,000), 2025
# Every year prints the 2020 letter's narrative here: a real letter's length and markup.
NARRATIVE = shipped(2020)


def sample_letters() -> list[Letter]:
    letters = []
    for start_year in YEARS:
        year = FinancialYear(start_year)
        for n, (up, nup, rem, outc, impl, population) in enumerate(SHAPES):
            counts = CouncilYearCounts(
                upheld=up,
                not_upheld=nup,
                satisfactory_remedies=rem,
                compliance_outcomes=outc,
                compliance_implemented=impl,
            )
            letters.append(
                build_letter(
                    f"Sample Council {n}",
                    ChiefExecutive(
                        name="Alex Example",
                        job_title="Chief Executive",
                        salutation="Mx Example",
                        email="ce@example.gov.uk",
                    ),
                    year,
                    CouncilYear(f"S{n:03d}", year, ComparisonGroup.DISTRICT, counts, population),
                    GroupAverages(
                        ComparisonGroup.DISTRICT,
                        year,
                        181,
                        Fraction(45, 100),
                        Fraction(99, 100),
                        Fraction(20, 100),
                        Fraction(12, 10),
                    ),
                    date(start_year + 1, 7, 22),
                    date(start_year + 1, 7, 29),
                    SIGNATORY,
                    narrative=NARRATIVE,
                )
            )
    return letters


def measure(runs: int, out: Path | None) -> dict[str, object]:
    from services.letters import render

    letters = sample_letters()
    t0 = time.perf_counter()
    render.render_letter(letters[0])
    cold_ms = (time.perf_counter() - t0) * 1000
    per_run: dict[str, list[float]] = {"text": [], "html": [], "pdf": [], "total": []}
    cpu_per_run: list[float] = []  # this process's CPU time: less disturbed by other work
    for _ in range(runs):
        cpu = time.process_time()
        spent = {"text": 0.0, "html": 0.0, "pdf": 0.0}
        for letter in letters:
            a = time.perf_counter()
            text = render.render_text(letter)
            b = time.perf_counter()
            html = render.render_html(letter)
            c = time.perf_counter()
            pdf = render.render_pdf(letter)  # its own page (SVG charts), then the PDF
            d = time.perf_counter()
            spent["text"] += b - a
            spent["html"] += c - b
            spent["pdf"] += d - c
            if out is not None:
                out.mkdir(parents=True, exist_ok=True)
                stem = f"{letter.letter_year}-{letter.identity.council_code}"
                (out / f"{stem}.txt").write_text(text)
                (out / f"{stem}.html").write_text(html)
                (out / f"{stem}.pdf").write_bytes(pdf)
        for key, seconds in spent.items():
            per_run[key].append(seconds * 1000 / len(letters))
        per_run["total"].append(sum(spent.values()) * 1000 / len(letters))
        cpu_per_run.append((time.process_time() - cpu) * 1000 / len(letters))
    return {
        "letters_per_run": len(letters),
        "runs": runs,
        "cold_first_letter_ms": round(cold_ms, 1),
        "median_ms_per_letter": {k: round(statistics.median(v), 2) for k, v in per_run.items()},
        "median_cpu_ms_per_letter": round(statistics.median(cpu_per_run), 1),
        "runs_total_ms_per_letter": [round(v, 1) for v in per_run["total"]],
        "runs_cpu_ms_per_letter": [round(v, 1) for v in cpu_per_run],
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.render_letters", description=__doc__)
    p.add_argument("--runs", type=int, default=5, help="runs over the sample (default 5)")
    p.add_argument("--out", type=Path, help="write each letter's text, HTML and PDF here")
    a = p.parse_args(argv)
    print(json.dumps(measure(a.runs, a.out), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
