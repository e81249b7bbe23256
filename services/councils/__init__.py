"""The council registry's way in: CSV files (the project's format or mySociety's register)
turned into CouncilRegistered events, and a built-in sample of a dozen councils."""

from services.councils.importer import (
    CsvFormat,
    ImportReport,
    InvalidRow,
    read_councils,
    registration_events,
)
from services.councils.model import CouncilRecord, placeholder_chief_executive
from services.councils.sample import SAMPLE_CSV, load_sample

__all__ = [
    "SAMPLE_CSV",
    "CouncilRecord",
    "CsvFormat",
    "ImportReport",
    "InvalidRow",
    "load_sample",
    "placeholder_chief_executive",
    "read_councils",
    "registration_events",
]
