"""The command line as a newcomer meets it: every command explains itself and its options,
and mistakes get a message that says what to do, with a meaningful exit code.

Nothing here needs Kafka: the commands refuse bad input before connecting to anything.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
import typer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner, Result

from services.cli.main import app
from services.platform.settings import get_settings

REPO = Path(__file__).resolve().parents[2]
WIDE = {"COLUMNS": "250", "TERMINAL_WIDTH": "250", "NO_COLOR": "1"}

runner = CliRunner()


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return runner.invoke(app, list(args), env={**WIDE, **(env or {})})


@pytest.fixture(autouse=True)
def fresh_settings() -> Iterator[None]:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


HELP = {
    (): [
        "councils",
        "publish",
        "simulate",
        "close-year",
        "serve",
        "config",
        "--version",
        "stats",
        "explain",
        "averages",
        "status",
        "replay",
        "restore",
        "dlq",
        "letters",
        "demo",
        "publication",
        "log",
    ],
    ("councils",): ["import", "sample"],
    ("councils", "import"): [
        "--format",
        "auto",
        "project",
        "mysociety",
        "--year",
        "--dry-run",
        "--skip-invalid",
        "--json",
        "placeholder",
    ],
    ("councils", "sample"): ["--out", "Mansfield"],
    ("publish",): ["FILE", "--json", "--show", "--chunk-size", "line numbers", "NOTHING"],
    ("simulate",): [
        "--year",
        "--councils",
        "--councils-file",
        "--events",
        "--seed",
        "--invalid-share",
        "--corrections-share",
        "--withdrawals-share",
        "--include-registrations",
        "--no-include-registrations",
        "--mansfield-real",
        "--no-mansfield-real",
        "--out",
        "--json",
    ],
    ("close-year",): [
        "YEAR",
        "--letter-date",
        "--publication-date",
        "--signatory-name",
        "--signatory-title",
        "--close-id",
        "--json",
    ],
    ("serve",): ["projector", "letters", "smtp", "web", "office", "publication"],
    ("serve", "office"): ["AR_OFFICE_HOST", "ar_office"],
    ("serve", "web"): ["AR_WEB_HOST", "ar_web"],
    ("serve", "publication"): ["00:00 UK time", "AR_PUBLICATION_INTERVAL_S"],
    ("publication",): ["run", "status"],
    ("publication", "run"): ["--now", "--json", "00:00 UK time"],
    ("publication", "status"): ["--json"],
    ("serve", "projector"): ["PostgreSQL", "Kafka"],
    ("serve", "letters"): ["letters"],
    ("serve", "smtp"): ["--port", "2525", "--maildir"],
    ("config",): ["--json", "AR_"],
    ("demo",): [
        "--out-dir",
        "--events",
        "--seed",
        "--register",
        "--keep",
        "--timeout",
        "--serve",
        "--web-port",
    ],
    ("stats",): ["COUNCIL", "YEAR", "--json", "snapshot"],
    ("explain",): ["COUNCIL|CASE_REF", "YEAR", "STATISTIC", "--json", "why a case is not"],
    ("averages",): ["YEAR", "--snapshot", "--json"],
    ("status",): ["--json", "Lag", "dead letters"],
    ("replay",): ["--cancel", "--json", "without downtime", "resume"],
    ("restore",): ["--force", "--workers", "--json", "empty database", "uncertain", "owner"],
    ("dlq",): ["list", "redrive", "resolve"],
    ("dlq", "list"): ["--state", "--limit", "--json"],
    ("dlq", "redrive"): ["IDS", "--note"],
    ("dlq", "resolve"): ["IDS", "--note"],
    ("letters",): [
        "list",
        "show",
        "export",
        "case-list",
        "release",
        "resend",
        "confirm-sent",
        "withdraw",
        "reissue",
        "narrative",
        "proof",
    ],
    ("letters", "narrative"): ["check", "set", "show", "list", "Markdown"],
    ("letters", "narrative", "check"): ["FILE", "line"],
    ("letters", "narrative", "set"): ["YEAR", "FILE", "--format", "--by", "--note", "2025-26"],
    ("letters", "narrative", "show"): ["YEAR", "--version", "--json"],
    ("letters", "narrative", "list"): ["--json", "refused"],
    ("letters", "proof"): [
        "YEAR",
        "--council",
        "--out",
        "--narrative",
        "--letter-date",
        "--publication-date",
        "--signatory-name",
        "PNG",
    ],
    ("letters", "list"): ["--year", "--state", "--json"],
    ("letters", "show"): ["COUNCIL", "YEAR", "--version", "--html"],
    ("letters", "case-list"): ["COUNCIL", "YEAR", "--csv", "--output", "FILE", "--version"],
    ("letters", "export"): ["OUT_DIR", "--year"],
    ("letters", "release"): ["COUNCIL", "YEAR", "--note"],
    ("letters", "resend"): ["COUNCIL", "YEAR", "--note"],
    ("letters", "confirm-sent"): ["COUNCIL", "YEAR", "--note"],
    ("letters", "withdraw"): ["COUNCIL", "YEAR", "--reason", "held", "never"],
    ("letters", "reissue"): ["COUNCIL", "YEAR", "--reason", "--letter-date"],
    ("log",): ["export", "verify", "import"],
    ("log", "export"): ["DIRECTORY", "manifest", "sha256", "operator", "--json"],
    ("log", "verify"): ["DIRECTORY", "sha256", "--json"],
    ("log", "import"): ["DIRECTORY", "empty", "original offset", "admin", "replay", "--json"],
}


@pytest.mark.parametrize("path", list(HELP), ids=lambda p: " ".join(p) or "annual-review")
def test_help_explains_the_command_and_its_options(path: tuple[str, ...]) -> None:
    result = invoke(*path, "--help")
    assert result.exit_code == 0, result.output
    for word in HELP[path]:
        assert word in result.output, f"{word!r} missing from `{' '.join(path)} --help`"


def _commands(group: object, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [path]
    for name, sub in getattr(group, "commands", {}).items():
        found += _commands(sub, (*path, name))
    return found


def test_every_command_is_covered_above_and_has_a_help_text() -> None:
    command = typer.main.get_command(app)
    paths = _commands(command)
    assert set(paths) == set(HELP), "a new command needs its --help checked here"
    for path in paths:
        result = invoke(*path, "--help")
        assert result.exit_code == 0
        assert "Usage:" in result.output


def test_version() -> None:
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.output.startswith("annual-review ")


def test_services_are_imported_only_when_started() -> None:
    code = (
        "import sys, services.cli.main; "
        "assert not {'services.projector.app', 'services.letters.app', "
        "'services.letters.smtp_server'} & set(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)


# --- wrong arguments -------------------------------------------------------------------------


def test_a_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    result = invoke("publish", str(tmp_path / "nope.jsonl"))
    assert result.exit_code == 2
    assert "does not exist" in result.output


def test_a_wrong_year_says_the_expected_form(tmp_path: Path) -> None:
    result = invoke("simulate", "--year", "2019-2020", "--out", str(tmp_path / "x.jsonl"))
    assert result.exit_code == 2
    assert "2019-20" in result.output


def test_a_share_out_of_range_is_refused(tmp_path: Path) -> None:
    result = invoke("simulate", "--invalid-share", "5", "--out", str(tmp_path / "x.jsonl"))
    assert result.exit_code == 2
    assert "between 0 and 1" in result.output


def test_close_year_checks_its_dates_before_connecting() -> None:
    result = invoke(
        "close-year",
        "2019-20",
        "--letter-date",
        "2020-03-01",
        "--publication-date",
        "2020-07-29",
        "--signatory-name",
        "Michael King",
        "--signatory-title",
        "Local Government and Social Care Ombudsman",
    )
    assert result.exit_code == 1
    assert "must be after the year 2019-20 ends" in result.output
    wrong_form = invoke(
        "close-year", "2019-20", "--letter-date", "22/07/2020", "--publication-date",
        "2020-07-29", "--signatory-name", "X", "--signatory-title", "Y",
    )  # fmt: skip
    assert wrong_form.exit_code == 2
    assert "YYYY-MM-DD" in wrong_form.output


def test_a_bad_environment_names_the_variable() -> None:
    result = invoke("config", env={"AR_SMTP_PORT": "abc"})
    assert result.exit_code == 2
    assert "AR_SMTP_PORT" in result.output


def test_config_masks_passwords() -> None:
    result = invoke(
        "config", "--json", env={"AR_DATABASE_URL": "postgresql://ar:hunter2@db.example/ar"}
    )
    assert result.exit_code == 0
    values = json.loads(result.stdout)
    assert values["database_url"] == "postgresql://ar:***@db.example/ar"
    assert "hunter2" not in result.output


# --- simulate ---------------------------------------------------------------------------------


def test_simulate_writes_the_same_bytes_for_the_same_seed(tmp_path: Path) -> None:
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    for path in (a, b):
        result = invoke("simulate", "--events", "500", "--seed", "3", "--out", str(path), "--json")
        assert result.exit_code == 0, result.output
    assert a.read_bytes() == b.read_bytes()
    summary = json.loads(invoke(
        "simulate", "--events", "500", "--seed", "3", "--out", str(a), "--json"
    ).stdout)  # fmt: skip
    assert summary["lines"] == 500 + 12 + 3
    assert summary["by_type"]["CouncilRegistered"] == 12


def test_simulate_takes_councils_from_a_file(tmp_path: Path) -> None:
    councils = tmp_path / "councils.csv"
    assert invoke("councils", "sample", "--out", str(councils)).exit_code == 0
    out = tmp_path / "out.jsonl"
    result = invoke(
        "simulate", "--councils-file", str(councils), "--councils", "4", "--events", "50",
        "--no-mansfield-real", "--out", str(out), "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["by_type"]["CouncilRegistered"] == 4


def simulate_small(path: Path) -> Result:
    return invoke("simulate", "--events", "3", "--invalid-share", "0", "--out", str(path))


# --- publish refuses a bad file before connecting ----------------------------------------------


def test_publish_lists_invalid_lines_and_publishes_nothing(tmp_path: Path) -> None:
    good = tmp_path / "good.jsonl"
    assert (
        invoke("simulate", "--events", "3", "--invalid-share", "0", "--out", str(good)).exit_code
        == 0
    )
    lines = good.read_text().splitlines()
    lines[1] = "this is not JSON"
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(lines) + "\n")
    result = invoke("publish", str(bad), env={"AR_KAFKA_BOOTSTRAP": "127.0.0.1:1"})
    assert result.exit_code == 1
    assert "not_json" in result.output and "nothing was published" in result.output
    as_json = invoke("publish", str(bad), "--json", env={"AR_KAFKA_BOOTSTRAP": "127.0.0.1:1"})
    assert as_json.exit_code == 1
    report = json.loads(as_json.stdout)
    assert report["published"] == 0
    assert [(i["line"], i["reason"]) for i in report["invalid"]] == [(2, "not_json")]


def test_publish_without_kafka_says_to_run_make_up(tmp_path: Path) -> None:
    good = tmp_path / "good.jsonl"
    assert (
        invoke("simulate", "--events", "3", "--invalid-share", "0", "--out", str(good)).exit_code
        == 0
    )
    # The simulation registers its councils: the office's key signs them (docs/security.md).
    key = tmp_path / "office-signing.key"
    key.write_bytes(
        Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    result = invoke(
        "publish",
        str(good),
        env={"AR_KAFKA_BOOTSTRAP": "127.0.0.1:1", "AR_OFFICE_SIGNING_KEY_FILE": str(key)},
    )
    assert result.exit_code == 3
    assert "make up" in result.output and "nothing was published" in result.output


# --- councils import --------------------------------------------------------------------------


def test_councils_import_dry_run_reports_the_sample(tmp_path: Path) -> None:
    councils = tmp_path / "councils.csv"
    invoke("councils", "sample", "--out", str(councils))
    result = invoke("councils", "import", str(councils), "--dry-run", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["councils"] == 12 and report["published"] == 0 and report["dry_run"]
    assert report["format"] == "project"


def test_councils_import_refuses_a_file_with_invalid_rows(tmp_path: Path) -> None:
    councils = tmp_path / "councils.csv"
    invoke("councils", "sample", "--out", str(councils))
    councils.write_text(councils.read_text() + "BAD,Bad Council,Parish,,,,,,,,\n")
    result = invoke("councils", "import", str(councils), env={"AR_KAFKA_BOOTSTRAP": "127.0.0.1:1"})
    assert result.exit_code == 1
    assert "14" in result.output and "Parish" in result.output
    assert "nothing was published" in result.output
    skip = invoke("councils", "import", str(councils), "--skip-invalid", "--dry-run", "--json")
    assert skip.exit_code == 0
    assert json.loads(skip.stdout)["councils"] == 12


def test_councils_import_of_an_unknown_format_says_which_formats_exist(tmp_path: Path) -> None:
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n")
    result = invoke("councils", "import", str(other))
    assert result.exit_code == 2
    assert "--format" in result.output and "docs/cli.md" in result.output


# --- what --help shows: words an operator types, one date format -----------------------------

# Placeholders inside a help text (AR_<NAME>, chief.executive@<slug>.example), not types.
PLACEHOLDERS = {"NAME", "slug"}
# Dates as ISO 8601 (2020-07-22) and financial years as 2019-20: nothing else.
OTHER_DATE_FORMS = re.compile(
    r"\b\d{1,2}/\d{1,2}/\d{2,4}\b"  # 22/07/2020
    r"|\b(19|20)\d\d/\d{2,4}\b"  # 2019/20
    r"|\b(19|20)\d\d-(19|20)\d\d\b"  # 2019-2020
    r"|\b\d{1,2} (January|February|March|April|May|June|July|August|September|October"
    r"|November|December)\b"
)
DATE_LIKE = re.compile(r"\b(19|20)\d\d-\d\d(-\d\d)?\b")


@pytest.mark.parametrize("path", list(HELP), ids=lambda p: " ".join(p) or "annual-review")
def test_help_names_values_in_words_not_python_types(path: tuple[str, ...]) -> None:
    shown = invoke(*path, "--help").output
    types = set(re.findall(r"<([^<>\s]+)>", shown)) - PLACEHOLDERS
    assert not types, f"`{' '.join(path)} --help` shows Python types: {types}"
    assert not re.search(r"\bFinancialYear\b|JSON_OUTPUT", shown)


@pytest.mark.parametrize("path", list(HELP), ids=lambda p: " ".join(p) or "annual-review")
def test_help_writes_every_date_one_way(path: tuple[str, ...]) -> None:
    shown = " ".join(invoke(*path, "--help").output.split())
    assert not OTHER_DATE_FORMS.search(shown), OTHER_DATE_FORMS.search(shown)
    for found in DATE_LIKE.finditer(shown):
        text = found.group(0)
        if len(text) == len("2019-20"):  # a financial year: the second year follows the first
            assert int(text[5:]) == (int(text[2:4]) + 1) % 100, text
        else:
            date.fromisoformat(text)


def test_help_names_a_year_year_and_a_date_date() -> None:
    close = " ".join(invoke("close-year", "--help").output.split())
    assert "--letter-date DATE" in close and "--publication-date DATE" in close
    assert "* YEAR" in close
    simulate = " ".join(invoke("simulate", "--help").output.split())
    assert "--year YEAR" in simulate
    flags = " ".join(invoke("replay", "--help").output.split())
    assert "--json Print the report as JSON." in flags  # a flag takes no value: no word after it


def test_log_import_refuses_a_damaged_backup_before_any_server_is_asked(tmp_path: Path) -> None:
    """No manifest: an unfinished export. Exit 1 and the reason, without a broker."""
    (tmp_path / "casework.facts").mkdir()
    result = invoke("log", "import", str(tmp_path))
    assert result.exit_code == 1, result.output
    assert "did not finish" in result.output
    result = invoke("log", "verify", str(tmp_path), "--json")
    assert result.exit_code == 1 and json.loads(result.stdout)["exit_code"] == 1


def test_log_export_refuses_a_folder_that_is_not_empty(tmp_path: Path) -> None:
    (tmp_path / "something").write_text("x")
    result = invoke("log", "export", str(tmp_path))
    assert result.exit_code == 2, result.output
    assert "not empty" in result.output
