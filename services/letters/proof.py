"""Proofs: the year's letters rendered from the live figures, for the office to read before the
close. Nothing is sent, stored or published: the files are written to a folder, every page
marked as a proof (Letter.proof), with a PNG of each PDF page (pdftoppm) to look at.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from contracts.financial_year import FinancialYear
from services.domain.letter_inputs import LetterInputs
from services.domain.narrative_book import NarrativeVersion
from services.domain.statistics import AveragingRule
from services.letters.render import RenderedLetter, render_letter
from services.platform.db import Conn
from services.readmodel.council_figures import registered_councils
from services.readmodel.letter_reads import live_inputs

PNG_DPI = 80
DRAFT_VERSION = -1  # a proof of a document not registered yet
# What a proof prints when nobody named the signatory: plainly not a person.
PLACEHOLDER_SIGNATORY: dict[str, Any] = {"name": "[signatory]", "titles": ("[title]",)}


@dataclass(frozen=True, slots=True)
class Proof:
    council: str
    files: tuple[Path, ...]


class ProofFailed(RuntimeError):
    """A proof could not be made; the message says for which council and why."""


def default_dates(year: FinancialYear, today: date) -> tuple[date, date]:
    """The letter and publication dates of a proof nobody gave dates for: today (or the day
    after the year ends, if that is later), and a week after."""
    letter_date = max(today, year.last_day + timedelta(days=1))
    return letter_date, letter_date + timedelta(days=7)


async def councils_to_proof(
    conn: Conn, year: FinancialYear, council: str | None = None
) -> list[str]:
    """The codes of the councils that existed in ``year`` (all, or just ``council``);
    LookupError when ``council`` is not one of them."""
    codes = [
        r["code"]
        for r in await registered_councils(conn, year)
        if year.overlaps(r["existed_from"], r["existed_until"])
    ]
    if council is None:
        return codes
    if council.upper() not in codes:
        raise LookupError(f"council {council.upper()} is not registered for {year}")
    return [council.upper()]


async def proof_inputs(
    conn: Conn,
    year: FinancialYear,
    codes: list[str],
    narrative: NarrativeVersion,
    rule: AveragingRule,
    letter_date: date,
    publication_date: date,
    signatory: dict[str, Any],
) -> list[LetterInputs]:
    """Each council's letter inputs from the live figures, printing ``narrative``."""
    return [
        (
            await live_inputs(conn, code, year, rule, letter_date, publication_date, signatory)
        ).with_narrative(narrative)
        for code in codes
    ]


def render_proof(inputs: LetterInputs) -> RenderedLetter:
    """One council's letter as a proof (every page marked PROOF), in memory."""
    try:
        return render_letter(inputs.letter(proof=True))
    except (ValueError, KeyError, RuntimeError) as e:
        raise ProofFailed(f"{inputs.council}: {e}") from e


def write_proof(inputs: LetterInputs, out: Path) -> Proof:
    """One council's proof: ``<out>/<council>/letter.{txt,html,pdf}`` and ``page-N.png``."""
    rendered = render_proof(inputs)
    folder = out / inputs.council
    folder.mkdir(parents=True, exist_ok=True)
    text, html, pdf = folder / "letter.txt", folder / "letter.html", folder / "letter.pdf"
    text.write_text(rendered.text, encoding="utf-8")
    html.write_text(rendered.html, encoding="utf-8")
    pdf.write_bytes(rendered.pdf)
    for old in folder.glob("page-*.png"):
        old.unlink()
    return Proof(inputs.council, (text, html, pdf, *pages_as_png(pdf, folder)))


def pages_as_png(pdf: Path, folder: Path) -> list[Path]:
    """Every page of ``pdf`` as ``page-N.png`` (poppler's pdftoppm, a Debian package)."""
    tool = shutil.which("pdftoppm")
    if tool is None:
        raise ProofFailed("pdftoppm is not installed (Debian: poppler-utils; `make setup`)")
    subprocess.run(
        [tool, "-r", str(PNG_DPI), "-png", str(pdf), str(folder / "page")],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return sorted(folder.glob("page-*.png"))


def write_proofs(
    all_inputs: list[LetterInputs], out: Path, progress: Callable[[Proof], None] | None = None
) -> list[Proof]:
    proofs = []
    for inputs in all_inputs:
        proof = write_proof(inputs, out)
        proofs.append(proof)
        if progress:
            progress(proof)
    return proofs
