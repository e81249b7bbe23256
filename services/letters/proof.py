"""Proofs: the year's letters rendered from the live figures, for the office to read before the
close. Nothing is sent, stored or published: the files are written to a folder, every page
marked as a proof (Letter.proof), with a PNG of each PDF page (pdftoppm) to look at.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from services.domain.letter_inputs import LetterInputs
from services.letters.render import render_letter

PNG_DPI = 80


@dataclass(frozen=True, slots=True)
class Proof:
    council: str
    files: tuple[Path, ...]


class ProofFailed(RuntimeError):
    """A proof could not be made; the message says for which council and why."""


def write_proof(inputs: LetterInputs, out: Path) -> Proof:
    """One council's proof: ``<out>/<council>/letter.{txt,html,pdf}`` and ``page-N.png``."""
    try:
        rendered = render_letter(inputs.letter(proof=True))
    except (ValueError, KeyError, RuntimeError) as e:
        raise ProofFailed(f"{inputs.council}: {e}") from e
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
