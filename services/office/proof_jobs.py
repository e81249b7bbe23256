"""The workspace's proofs jobs: the year's proofs made in the background, kept in a folder,
browsed by council and downloaded as one ZIP (docs/office.md, "Proofs").

Each job writes the files of ``letters proof`` (services/letters/proof.py: the same inputs,
the same renderer, the same folder layout) under ``<proofs_dir>/<financial year>/<job id>/``,
with ``job.json`` beside them: who started it, the narrative version it printed, how many
councils are done. The folder, not the database, holds them: they are files to read and
download, never an input of anything else, and a proof is made again in a minute; the
workspace's database role stays one that writes only its sessions.

A job runs in the workspace's own process (a task; the rendering in a thread so pages still
answer); a job whose process ended before it finished shows as *interrupted* (make it again).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import zipfile
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import structlog

from contracts.financial_year import FinancialYear
from services.domain.letter_inputs import LetterInputs
from services.domain.narrative_book import NarrativeVersion
from services.letters.proof import ProofFailed, write_proof

log = structlog.get_logger()

JobState = Literal["running", "done", "failed", "interrupted"]
JOB_FILE = "job.json"
_JOB_ID = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{6}$")
_COUNCIL = re.compile(r"^[A-Z0-9]{1,12}$")
_PAGE = re.compile(r"^page-\d{1,3}\.png$")
FILE_TYPES = {
    "letter.pdf": "application/pdf",
    "letter.html": "text/html; charset=utf-8",
    "letter.txt": "text/plain; charset=utf-8",
}


@dataclass(slots=True)
class ProofJob:
    id: str
    financial_year: str
    narrative_version: int
    narrative_sha256: str
    started_by: str
    started_at: str
    total: int
    done: int = 0
    state: JobState = "running"
    error: str | None = None
    finished_at: str | None = None
    last_council: str | None = None
    councils: list[str] = field(default_factory=list)

    @property
    def percent(self) -> int:
        return 100 if self.total == 0 else min(100, self.done * 100 // self.total)

    @property
    def year(self) -> FinancialYear:
        return FinancialYear.parse(self.financial_year)


def new_job_id(now: datetime) -> str:
    return now.strftime("%Y%m%dT%H%M%SZ-") + secrets.token_hex(3)


class ProofStore:
    """The proofs folder. Every name that comes from an address (year, job, council, file) is
    checked against a pattern before it becomes a path: nothing outside the folder is read."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def job_folder(self, year: FinancialYear, job_id: str) -> Path:
        if not _JOB_ID.match(job_id):
            raise LookupError(f"no proofs job {job_id!r}")
        return self.root / year.label / job_id

    def save(self, job: ProofJob) -> None:
        folder = self.job_folder(job.year, job.id)
        folder.mkdir(parents=True, exist_ok=True)
        temporary = folder / (JOB_FILE + ".tmp")
        temporary.write_text(json.dumps(asdict(job), indent=1), encoding="utf-8")
        os.replace(temporary, folder / JOB_FILE)  # readers never see half a file

    def load(self, year: FinancialYear, job_id: str) -> ProofJob:
        path = self.job_folder(year, job_id) / JOB_FILE
        try:
            return ProofJob(**json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            raise LookupError(f"no proofs job {job_id} for {year}") from None

    def jobs(self, year: FinancialYear) -> list[ProofJob]:
        """The year's jobs, newest first."""
        folder = self.root / year.label
        if not folder.is_dir():
            return []
        found = [
            self.load(year, p.name)
            for p in folder.iterdir()
            if _JOB_ID.match(p.name) and (p / JOB_FILE).is_file()
        ]
        return sorted(found, key=lambda j: j.id, reverse=True)

    def years(self) -> list[FinancialYear]:
        if not self.root.is_dir():
            return []
        years = []
        for p in self.root.iterdir():
            try:
                years.append(FinancialYear.parse(p.name))
            except ValueError:
                continue
        return years

    def file(self, job: ProofJob, council: str, name: str) -> Path:
        """A file of one council's proof: letter.pdf/.html/.txt or page-N.png."""
        if council not in job.councils or not _COUNCIL.match(council):
            raise LookupError(f"no proof of {council} in job {job.id}")
        if name not in FILE_TYPES and not _PAGE.match(name):
            raise LookupError(f"no file {name!r} in a proof")
        path = self.job_folder(job.year, job.id) / council / name
        if not path.is_file():
            raise LookupError(f"no file {name} in the proof of {council}")
        return path

    def pages(self, job: ProofJob, council: str) -> list[str]:
        folder = self.job_folder(job.year, job.id) / council
        names = [p.name for p in folder.glob("page-*.png") if _PAGE.match(p.name)]
        return sorted(names, key=lambda n: int(n[5:-4]))

    def zip_chunks(self, job: ProofJob) -> Iterator[bytes]:
        """The job's PDFs as one ZIP (``<year>-proofs/<council>.pdf``), made as it is sent:
        never the whole archive in memory or on disk."""
        sink = _Chunks()
        prefix = f"{job.financial_year}-proofs"
        with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED) as archive:
            for council in job.councils:
                pdf = self.file(job, council, "letter.pdf")
                with pdf.open("rb") as source, archive.open(f"{prefix}/{council}.pdf", "w") as to:
                    while block := source.read(1 << 16):
                        to.write(block)
                        yield from sink.take()
                yield from sink.take()
        yield from sink.take()


class _Chunks:
    """A write-only file for zipfile (not seekable: zipfile then writes data descriptors);
    what was written is taken out in chunks."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def take(self) -> Iterator[bytes]:
        if self._parts:
            chunk = b"".join(self._parts)
            self._parts.clear()
            yield chunk


Inputs = Callable[[], Awaitable[list[LetterInputs]]]
Finished = Callable[[ProofJob], Awaitable[None]]


class ProofJobs:
    """The jobs running in this process, one at a time per year."""

    def __init__(self, store: ProofStore) -> None:
        self.store = store
        # (year, job id) -> the task making it; kept so the task is not collected.
        self._running: dict[tuple[str, str], asyncio.Task[None]] = {}

    def running(self, year: FinancialYear) -> str | None:
        """The id of the year's job running in this process, if one is."""
        for (label, job_id), task in self._running.items():
            if label == year.label and not task.done():
                return job_id
        return None

    async def wait(self) -> None:
        """Until every job this process started has ended (tests, shutdown)."""
        await asyncio.gather(*self._running.values(), return_exceptions=True)

    def state_of(self, job: ProofJob) -> ProofJob:
        """``job`` as it is: a job saved as running that no task of this process runs was
        interrupted (the process ended)."""
        task = self._running.get((job.financial_year, job.id))
        if job.state == "running" and (task is None or task.done()):
            job.state = "interrupted"
        return job

    def start(
        self,
        year: FinancialYear,
        narrative: NarrativeVersion,
        started_by: str,
        councils: list[str],
        inputs: Inputs,
        finished: Finished,
    ) -> ProofJob:
        now = datetime.now(UTC)
        job = ProofJob(
            id=new_job_id(now),
            financial_year=year.label,
            narrative_version=narrative.version,
            narrative_sha256=narrative.sha256,
            started_by=started_by,
            started_at=now.isoformat(timespec="seconds"),
            total=len(councils),
        )
        self.store.save(job)
        task = asyncio.create_task(self._run(job, inputs, finished))
        self._running[(job.financial_year, job.id)] = task
        return job

    async def _run(self, job: ProofJob, inputs: Inputs, finished: Finished) -> None:
        folder = self.store.job_folder(job.year, job.id)
        try:
            for one in await inputs():
                proof = await asyncio.to_thread(write_proof, one, folder)
                job.done += 1
                job.last_council = proof.council
                job.councils.append(proof.council)
                self.store.save(job)
            job.state = "done"
        except (ProofFailed, LookupError, OSError) as e:
            job.state, job.error = "failed", str(e)[:500]
            log.warning("proofs job failed", job=job.id, error=job.error)
        except Exception as e:  # the job must end saying so, whatever stopped it
            job.state, job.error = "failed", f"{type(e).__name__}: {str(e)[:400]}"
            log.exception("proofs job failed", job=job.id)
        job.finished_at = datetime.now(UTC).isoformat(timespec="seconds")
        self.store.save(job)
        if job.state == "done":
            try:
                await finished(job)
            except Exception:
                log.exception("proofs made but not recorded on the audit trail", job=job.id)


def jobs_of(state: Any) -> ProofJobs:
    """The process's proofs jobs (an application's ``state``), over the folder of its
    settings, made at first use."""
    if not hasattr(state, "proof_jobs"):
        state.proof_jobs = ProofJobs(ProofStore(state.office.proofs_dir))
    jobs: ProofJobs = state.proof_jobs
    return jobs


def latest_proofs(jobs: ProofJobs, year: FinancialYear) -> str | None:
    """The year board's line for the year's latest proofs job, if one was made."""
    latest = next(iter(jobs.store.jobs(year)), None)
    if latest is None:
        return None
    job = jobs.state_of(latest)
    return (
        f"{job.state}: {job.done} of {job.total} councils, narrative version "
        f"{job.narrative_version}, started {job.started_at.replace('T', ' ')[:16]} UTC by "
        f"{job.started_by}"
    )
