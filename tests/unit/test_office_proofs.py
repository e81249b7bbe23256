"""The workspace's proofs folder and jobs, without servers: names from addresses never leave
the folder, the ZIP is streamed and holds one PDF per council, a job whose process ended is
shown as interrupted, and the narrative's difference view marks its lines."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from contracts.financial_year import FinancialYear
from services.domain.narrative_book import NarrativeVersion
from services.office.narrative_pages import difference
from services.office.proof_jobs import ProofJob, ProofJobs, ProofStore, latest_proofs, new_job_id

YEAR = FinancialYear(2025)


def a_job(store: ProofStore, councils: list[str], state: str = "done") -> ProofJob:
    job = ProofJob(
        id=new_job_id(datetime(2026, 7, 1, 9, 30, tzinfo=UTC)),
        financial_year=YEAR.label,
        narrative_version=2,
        narrative_sha256="ab" * 32,
        started_by="Ada Author",
        started_at="2026-07-01T09:30:00+00:00",
        total=len(councils),
        done=len(councils),
        state=state,  # type: ignore[arg-type]
        councils=councils,
    )
    for code in councils:
        folder = store.job_folder(YEAR, job.id) / code
        folder.mkdir(parents=True)
        (folder / "letter.pdf").write_bytes(b"%PDF-1.7 " + code.encode() * 1000)
        (folder / "page-1.png").write_bytes(b"\x89PNG")
    store.save(job)
    return job


def test_a_job_is_saved_and_read_back_and_listed_newest_first(tmp_path: Path) -> None:
    store = ProofStore(tmp_path)
    older = a_job(store, ["MAS"])
    newer = dataclasses.replace(older, id=new_job_id(datetime(2026, 7, 2, tzinfo=UTC)))
    store.save(newer)
    assert store.load(YEAR, older.id) == older
    assert [j.id for j in store.jobs(YEAR)] == [newer.id, older.id]
    assert store.years() == [YEAR]


@pytest.mark.parametrize("job_id", ["../../etc", "x", "20260701T093000Z-zzzzzz", ""])
def test_a_job_id_that_is_not_one_is_refused_before_it_becomes_a_path(
    tmp_path: Path, job_id: str
) -> None:
    with pytest.raises(LookupError):
        ProofStore(tmp_path).job_folder(YEAR, job_id)


@pytest.mark.parametrize(
    ("council", "name"),
    [("MAS", "../job.json"), ("MAS", "job.json"), ("..", "letter.pdf"), ("FMA", "letter.pdf"),
     ("MAS", "page-1.png/../../x"), ("MAS", "letter.txt")],
)  # fmt: skip
def test_only_the_files_of_a_proof_of_the_job_are_served(
    tmp_path: Path, council: str, name: str
) -> None:
    store = ProofStore(tmp_path)
    job = a_job(store, ["MAS"])
    with pytest.raises(LookupError):
        store.file(job, council, name)
    assert store.file(job, "MAS", "letter.pdf").read_bytes().startswith(b"%PDF")
    assert store.pages(job, "MAS") == ["page-1.png"]


def test_the_zip_is_made_in_chunks_and_holds_one_pdf_per_council(tmp_path: Path) -> None:
    store = ProofStore(tmp_path)
    job = a_job(store, ["FMA", "FMB", "MAS"])
    chunks = list(store.zip_chunks(job))
    assert len(chunks) > 1  # streamed, not one block at the end
    with zipfile.ZipFile(io.BytesIO(b"".join(chunks))) as z:
        assert z.testzip() is None
        assert sorted(z.namelist()) == [f"2025-26-proofs/{c}.pdf" for c in ("FMA", "FMB", "MAS")]
        assert z.read("2025-26-proofs/MAS.pdf") == b"%PDF-1.7 " + b"MAS" * 1000


def test_a_job_saved_as_running_that_no_task_runs_is_shown_as_interrupted(
    tmp_path: Path,
) -> None:
    store = ProofStore(tmp_path)
    job = a_job(store, ["MAS"], state="running")
    jobs = ProofJobs(store)
    assert jobs.state_of(store.load(YEAR, job.id)).state == "interrupted"
    assert (latest_proofs(jobs, YEAR) or "").startswith("interrupted: 1 of 1 councils")
    assert latest_proofs(jobs, FinancialYear(2019)) is None


def test_a_job_that_fails_says_why_and_records_nothing(tmp_path: Path) -> None:
    store = ProofStore(tmp_path)
    jobs = ProofJobs(store)
    recorded: list[ProofJob] = []

    async def no_inputs() -> list[object]:
        raise LookupError("council MAS is not registered for 2025-26")

    async def finished(job: ProofJob) -> None:
        recorded.append(job)

    async def run() -> ProofJob:
        narrative = NarrativeVersion(2026, 1, "2025", "Words.\n")
        job = jobs.start(YEAR, narrative, "Ada Author", ["MAS"], no_inputs, finished)  # type: ignore[arg-type]
        await jobs.wait()
        assert jobs.running(YEAR) is None
        return store.load(YEAR, job.id)

    job = asyncio.run(run())
    assert job.state == "failed" and "MAS is not registered" in (job.error or "")
    assert recorded == []


def test_the_difference_marks_added_and_removed_lines() -> None:
    lines = difference("a\nold <b>\nc\n", "a\nnew & more\nc\n", "version 1", "version 2")
    kinds = [(line.kind, line.text) for line in lines]
    assert ("removed", "-old <b>") in kinds and ("added", "+new & more") in kinds
    assert kinds[0][0] == "where"  # the @@ line; the file names are left out
