"""``python -m bench.explain_year``: how long ``annual-review explain`` takes for the largest
council-year of a simulated year (docs/benchmarks.md).

Projects a simulated year (344 councils, closed on every partition) with the batch step into
a fresh database, as ``bench.batch_year`` does, then times the explanation of the council-year
with the most cases: the reads (``services/readmodel/explain_reads.py``) and the pure
explanation with its JSON, median of ``--reps``. The baseline, timed in the same loop on the
same database: ``stats`` of the same council-year (``council_figures``: its counts, rates and
group averages), so the ratio says what explaining costs beyond showing the figures. Prints
the batch's rate too: the history lines (``case_events``) are written by every batch.

    infra/ctl.sh exec .venv/bin/python -m bench.explain_year --events 100000 --reps 5
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench.batch_year import year_records
from bench.infra import database_slice
from contracts.financial_year import FinancialYear
from services.domain.explanation import as_dict, explain
from services.domain.statistics import AveragingRule
from services.platform.migrations import apply_migrations, default_folders
from services.platform.office_signature import OfficeAuthority, OfficeSigner
from services.platform.settings import Settings
from services.projector.batch import project_batch
from services.readmodel.council_figures import council_figures
from services.readmodel.explain_reads import council_year_inputs, largest_council_year
from services.readmodel.versions import ensure_active_version


async def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--events", type=int, default=100_000)
    p.add_argument("--batch", type=int, default=5000)
    p.add_argument("--reps", type=int, default=5)
    a = p.parse_args()
    year = FinancialYear(2019)
    signer = OfficeSigner(Ed25519PrivateKey.generate())
    authority = OfficeAuthority([signer.key.public_key()])
    records = year_records(year, a.events, signer)
    async with database_slice(Settings(), "bench-explain-year") as s:
        conn = await s.connect()
        try:
            await apply_migrations(conn, default_folders())
            schema = await ensure_active_version(conn)
            started = time.perf_counter()
            for i in range(0, len(records), a.batch):
                await project_batch(
                    conn, schema, records[i : i + a.batch], rule=AveragingRule.MEAN_OF_RATES,
                    dead_letter_sink=None, authority=authority,
                )  # fmt: skip
            projected = time.perf_counter() - started
            council, cases = await largest_council_year(conn, year)
            seconds, reads, baseline = [], [], []
            for _ in range(a.reps):
                t0 = time.perf_counter()
                await council_figures(conn, council, year, AveragingRule.MEAN_OF_RATES)
                baseline.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                got = await council_year_inputs(conn, council, year)
                reads.append(time.perf_counter() - t0)
                x = explain(
                    council, year, got.history, cuts=got.cuts, letter_counts=got.letter_counts,
                    refusals=got.refusals, parked=got.parked,
                )  # fmt: skip
                size = len(json.dumps(as_dict(x)))
                seconds.append(time.perf_counter() - t0)
        finally:
            await conn.close()
    print(
        f"{len(records):,} records projected in {projected:.1f} s "
        f"({len(records) / projected:,.0f} records/s); "
        f"explain {council} {year} ({cases} cases, JSON {size:,} bytes, cut: {x.cut}): "
        f"median {statistics.median(seconds) * 1000:.0f} ms (reads "
        f"{statistics.median(reads) * 1000:.0f} ms) over {a.reps}: "
        + ", ".join(f"{s * 1000:.0f}" for s in seconds)
        + f"; baseline stats {council} {year}: median "
        f"{statistics.median(baseline) * 1000:.0f} ms ("
        + ", ".join(f"{s * 1000:.0f}" for s in baseline)
        + f"); explain / stats = {statistics.median(seconds) / statistics.median(baseline):.1f}"
    )


if __name__ == "__main__":
    asyncio.run(main())
