"""The built-in sample: a dozen real councils, two or more per comparison group.

Mansfield District Council carries its real 2020 addressee (the reference letter's);
the others have the placeholder addressee, as the register names no chief executive.
Mansfield's code here is MAN, the project's own choice (mySociety's register uses MAS
for Mansfield and MAN for Manchester, which is not in the sample).
"""

from __future__ import annotations

from importlib.resources import files

from services.councils.model import CouncilRecord

SAMPLE_CSV = "sample_councils.csv"
MANSFIELD_CODE = "MAN"
MANSFIELD_NAME = "Mansfield District Council"


def sample_text() -> str:
    return files("services.councils").joinpath(SAMPLE_CSV).read_text(encoding="utf-8")


def load_sample() -> list[CouncilRecord]:
    from services.councils.importer import CsvFormat, read_councils

    report = read_councils(sample_text(), fmt=CsvFormat.PROJECT)
    if report.invalid:  # a packaging mistake, not a user error
        raise RuntimeError(f"the built-in sample is invalid: {report.invalid}")
    return report.councils
