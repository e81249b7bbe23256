"""What ``letters proof`` does, step by step: the narrative to proof (a draft file or the one
registered), the live figures of the year's councils, and the files (services/letters/proof.py).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from aiokafka.errors import KafkaError

from contracts.financial_year import FinancialYear
from contracts.values import LETTER_FORMATS, LetterFormat
from services.audit.record import cli_actor
from services.cli.common import ExitCode, err, fail, run, settings
from services.cli.db import connection, run_db
from services.cli.narratives import on_kafka, read_document, refuse_document
from services.cli.progress import progress
from services.domain.letter_formats import UnsupportedLetterYear, format_for
from services.domain.letter_inputs import LetterInputs
from services.domain.narrative import NarrativeError, parse
from services.domain.narrative_book import NarrativeVersion
from services.letters.narrative_registry import load_book
from services.letters.proof import (
    DRAFT_VERSION,
    Proof,
    ProofFailed,
    councils_to_proof,
    proof_inputs,
    write_proofs,
)
from services.office.narrative_actions import record_proofs_made
from services.projector.config import get_projector_settings


def checked_format(year: FinancialYear, given: str | None) -> LetterFormat | None:
    if given is not None and given not in LETTER_FORMATS:
        fail(f"unknown format {given!r}: use one of {', '.join(LETTER_FORMATS)}")
    return given


def draft(path: Path, year: FinancialYear, fmt: LetterFormat | None) -> NarrativeVersion:
    markdown = read_document(path)
    try:
        parse(markdown)
        letter_format = format_for(year.letter_year, fmt)
    except NarrativeError as problems:
        refuse_document(path, problems)
    except UnsupportedLetterYear as e:
        fail(str(e).replace("letters narrative set", "letters proof --format; then set"),
             code=ExitCode.INVALID_INPUT)  # fmt: skip
    return NarrativeVersion(year.letter_year, DRAFT_VERSION, letter_format, markdown)


def registered(year: FinancialYear) -> NarrativeVersion:
    narrative = on_kafka(load_book(settings())).in_force(year.letter_year)
    if narrative is None:
        fail(
            f"no narrative is registered for the {year.letter_year} letters",
            hint=f"proof a draft with `annual-review letters proof {year} --narrative FILE` "
            f"(docs/narratives.md), then register it with "
            f"`annual-review letters narrative set {year.letter_year} FILE`",
            code=ExitCode.INVALID_INPUT,
        )
    return narrative


def make(
    year: FinancialYear,
    council: str | None,
    narrative: NarrativeVersion,
    letter_date: date,
    publication_date: date,
    signatory: dict[str, Any],
    folder: Path,
) -> list[Proof]:
    rule = get_projector_settings().averaging_rule

    async def inputs() -> list[LetterInputs]:
        async with connection(settings()) as conn:
            codes = await councils_to_proof(conn, year, council)
            return await proof_inputs(
                conn, year, codes, narrative, rule, letter_date, publication_date, signatory
            )

    try:
        all_inputs = run_db(inputs())
    except LookupError as e:
        fail(str(e), hint="`annual-review stats CODE YEAR` lists what is registered",
             code=ExitCode.INVALID_INPUT)  # fmt: skip
    if not all_inputs:
        fail(f"no council is registered for {year}: nothing to proof", code=ExitCode.INVALID_INPUT)

    # Each proof renders a PDF and its pages as PNGs, about a second each: a bar for a year
    # of 300 councils, a few lines in a log.
    with progress() as tracker:
        task = tracker.add_task("proofs", total=len(all_inputs))

        def shown(p: Proof) -> None:
            tracker.update(
                task, advance=1, description=f"proofs ({p.council}: {len(p.files)} files)"
            )

        try:
            return write_proofs(all_inputs, folder, shown)
        except ProofFailed as e:
            fail(f"proof not made: {e}", code=ExitCode.INVALID_INPUT)


def record(
    year: FinancialYear, council: str | None, narrative: NarrativeVersion, count: int
) -> None:
    """The proofs on the audit trail, as the operator (the workspace's use case). The proofs
    are made whatever happens here: a trail that cannot be reached is said, not fatal."""
    try:
        run(
            record_proofs_made(
                settings(), cli_actor(), year, subject="letters proof",
                councils=count, narrative_version=narrative.version,
                narrative_sha256=narrative.sha256, council=council.upper() if council else None,
            )
        )  # fmt: skip
    except (KafkaError, OSError, TimeoutError) as e:
        err.print(
            f"warning: the proofs are made but not recorded on the audit trail ({e}); "
            "nothing else is affected",
            markup=False,
            soft_wrap=True,
        )
