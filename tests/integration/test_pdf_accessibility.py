"""Every letter format's PDF passes veraPDF's PDF/UA-1 profile (ISO 14289-1), all rules.

veraPDF (infra/verapdf, fetched from Maven Central by `make setup`) validates, in one run,
a letter of each format as it is today: the 2020 letter (year 2019-20) and the 2021 family
before the per-100,000 lines (2022-23) and with them (2023-24), with zero cases (no chart),
a missing average ("no figure") and a council name full of markup. The built-in profile is
used as it ships: no custom profile, no policy, no rule switched off. The same letter
rendered without tags is in the run too and must fail, so the check is known to bite.

Needs no servers, only Java and the veraPDF jars: a missing one fails with what to run.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import pytest

from services.domain.letter import Letter
from services.domain.statistics import CouncilYearCounts
from services.letters.render import render_pdf, render_print_html
from tests.support.letters import MANSFIELD_NAME, mansfield_letter

REPO = Path(__file__).resolve().parents[2]
VERAPDF = REPO / "infra" / "verapdf" / "verapdf.sh"
VERAPDF_LIBS = REPO / ".local" / "verapdf" / "libs"
PROFILE = "PDF/UA-1 validation profile"
PROFILE_FILE = "org/verapdf/pdfa/validation/PDFUA-1.xml"  # in veraPDF's core jar

FULL = CouncilYearCounts(
    upheld=14, not_upheld=9, satisfactory_remedies=3, compliance_outcomes=12,
    compliance_implemented=11,
)  # fmt: skip
NOTHING = CouncilYearCounts(advice_given=3)


def letter(
    start_year: int,
    counts: CouncilYearCounts = FULL,
    name: str = MANSFIELD_NAME,
    remedy_average: Fraction | None = Fraction(20, 100),
) -> Letter:
    return mansfield_letter(
        counts, start_year, council_name=name, population=110_000, remedy=remedy_average
    )


LETTERS = {
    "2019-20": letter(2019),
    "2019-20-zero-cases": letter(2019, NOTHING),
    "2022-23": letter(2022),
    "2022-23-no-average-markup-name": letter(
        2022, name='<b>"Tees & Wear"</b> (Joint) Council', remedy_average=None
    ),
    "2023-24": letter(2023),
    "2023-24-zero-cases": letter(2023, NOTHING),
    "2024-25": letter(2024),  # the 2025 format: the complaint overview
    "2024-25-zero-cases": letter(2024, NOTHING),
}


@dataclass(frozen=True)
class Verdict:
    compliant: bool
    profile: str
    passed_rules: int
    failed_rules: int
    passed_checks: int
    failed_checks: int
    failures: list[str]


def validate(paths: list[Path]) -> dict[str, Verdict]:
    """One veraPDF run over ``paths`` with the built-in PDF/UA-1 profile."""
    if shutil.which("java") is None:
        pytest.fail("java not found: run `make setup` (openjdk-17-jre-headless)", pytrace=False)
    status = subprocess.run([str(VERAPDF), "status"], capture_output=True, text=True)
    if status.returncode != 0:
        pytest.fail(f"veraPDF is not installed: run `make setup` ({status.stdout})", pytrace=False)
    run = subprocess.run(
        [str(VERAPDF), "run", "--flavour", "ua1", "--format", "xml", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    # veraPDF exits 1 when a file is not compliant: the report says which.
    assert run.returncode in (0, 1), f"veraPDF failed ({run.returncode}):\n{run.stderr[-3000:]}"
    report = ET.fromstring(run.stdout[run.stdout.index("<?xml") :])
    verdicts = {}
    for job in report.iter("job"):
        name = Path(job.findtext("item/name", "")).stem
        result = job.find("validationReport")
        assert result is not None, f"no validation report for {name}: {ET.tostring(job)!r}"
        details = result.find("details")
        assert details is not None
        verdicts[name] = Verdict(
            compliant=result.get("isCompliant") == "true",
            profile=result.get("profileName", ""),
            passed_rules=int(details.get("passedRules", "0")),
            failed_rules=int(details.get("failedRules", "0")),
            passed_checks=int(details.get("passedChecks", "0")),
            failed_checks=int(details.get("failedChecks", "0")),
            failures=[
                f"{rule.get('clause')}-{rule.get('testNumber')}: {rule.findtext('description')}"
                for rule in details.iter("rule")
                if rule.get("status") == "failed"
            ],
        )
    return verdicts


def rules_in_the_profile() -> int:
    """How many rules veraPDF's own PDF/UA-1 profile has, read from the jar it runs."""
    (core,) = VERAPDF_LIBS.glob("core-*.jar")
    with zipfile.ZipFile(core) as jar:
        return len(re.findall(rb"<rule\b", jar.read(PROFILE_FILE)))


@pytest.fixture(scope="module")
def verdicts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Verdict]:
    from weasyprint import HTML

    from services.letters.render import STYLESHEET, TEMPLATE_DIR

    folder = tmp_path_factory.mktemp("pdf-ua")
    paths = []
    for name, one in LETTERS.items():
        path = folder / f"{name}.pdf"
        path.write_bytes(render_pdf(one))
        paths.append(path)
    # The control: the 2023-24 letter as WeasyPrint renders it without tags.
    untagged = folder / "untagged-2023-24.pdf"
    untagged.write_bytes(
        HTML(
            string=render_print_html(LETTERS["2023-24"]), base_url=TEMPLATE_DIR.as_uri() + "/"
        ).write_pdf(stylesheets=[STYLESHEET])
    )
    paths.append(untagged)
    return validate(paths)


@pytest.mark.parametrize("name", list(LETTERS))
def test_every_letter_format_passes_pdf_ua_1(verdicts: dict[str, Verdict], name: str) -> None:
    verdict = verdicts[name]
    assert verdict.profile == PROFILE
    assert verdict.failures == []
    assert verdict.compliant
    assert verdict.failed_rules == 0 and verdict.failed_checks == 0
    # Every rule of the profile veraPDF ships was applied and passed, on real content.
    assert verdict.passed_rules == rules_in_the_profile() >= 100
    assert verdict.passed_checks > 1000


def test_the_same_letter_without_tags_fails_the_profile(verdicts: dict[str, Verdict]) -> None:
    verdict = verdicts["untagged-2023-24"]
    assert verdict.profile == PROFILE
    assert not verdict.compliant
    clauses = {failure.split(":")[0] for failure in verdict.failures}
    assert "7.1-11" in clauses  # no structure tree
    assert "7.1-3" in clauses  # content neither tagged nor an artifact
