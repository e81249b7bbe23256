"""Bad input never ends in a traceback: every command of the app, run with a representative
bad argument (or, for a command without arguments, a bad AR_* setting), answers with one
message that says what is allowed and the exit code docs/cli.md gives.

The servers are "somewhere nothing answers" (port 1): a command that connected before
refusing would exit 3, not the code expected, so each case also shows the input is refused
before any connection. The commands are enumerated from the typer app: a new command fails
``test_every_command_has_a_bad_input_case`` until a case is added here.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import pytest
import typer
from pydantic import BaseModel, Field
from typer.testing import CliRunner, Result

from contracts.codec import Reason, RejectedMessage
from services.cli.errors import RefusingGroup
from services.cli.main import app
from services.platform.settings import get_settings

REPO = Path(__file__).resolve().parents[2]
NOWHERE = {
    "AR_KAFKA_BOOTSTRAP": "127.0.0.1:1",
    "AR_DATABASE_URL": "postgresql://nobody:secret@127.0.0.1:1/nothing",
    "AR_PRINCIPAL": "",
    "AR_SECRETS_DIR": "",
    "COLUMNS": "250",
    "TERMINAL_WIDTH": "250",
    "NO_COLOR": "1",
}
REFUSED, WRONG = 1, 2  # docs/cli.md: input refused / wrong arguments or configuration
runner = CliRunner()


@dataclass(frozen=True)
class Bad:
    args: tuple[str, ...]
    code: int
    says: tuple[str, ...]  # what the message must contain: what is allowed
    env: dict[str, str] = field(default_factory=dict)


def bad(*args: str, code: int = WRONG, says: tuple[str, ...], **env: str) -> Bad:
    return Bad(args, code, says, env)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("bad-input")
    (folder / "narrative.md").write_text("Dear {council_name}.\n", encoding="utf-8")
    (folder / "events.jsonl").write_text('{"not": "an event"}\n', encoding="utf-8")
    (folder / "councils.csv").write_text("colour,shape\nred,round\n", encoding="utf-8")
    (folder / "latin1.md").write_bytes("Caf\xe9 {council_name}\n".encode("latin-1"))
    return folder


SETTING = "expected Log level: DEBUG, INFO, WARNING, ERROR, CRITICAL"
YEAR_FORM = "expected a label like '2019-20'"
CODE_FORM = "3 to 10 letters or digits"
LETTER_YEARS = "the letter years are 2020 (the letters for 2019-20) to 2100"
CLOSE = ("--letter-date", "2020-07-22", "--publication-date", "2020-07-29",
         "--signatory-name", "Michael King", "--signatory-title", "Ombudsman")  # fmt: skip

# FILE in an argument is replaced by the module's folder of bad files.
CASES: dict[tuple[str, ...], Bad] = {
    ("publish",): bad("publish", "FILE/events.jsonl", code=REFUSED,
                      says=("missing envelope field(s)", "nothing was published")),
    ("simulate",): bad("simulate", "--councils", "0", says=("greater than or equal to 1",)),
    ("close-year",): bad("close-year", "2018-19", *CLOSE, code=REFUSED, says=(LETTER_YEARS,)),
    ("config",): bad("config", says=(SETTING, "'LOUD'"), AR_LOG_LEVEL="LOUD"),
    ("stats",): bad("stats", "man!", "2019-20", says=(CODE_FORM,)),
    ("averages",): bad("averages", "2019", says=(YEAR_FORM,)),
    ("explain",): bad("explain", "MAN", "2019", says=(YEAR_FORM,)),
    ("status",): bad("status", says=("expected PostgreSQL DSN", "postgresql://"),
                     AR_DATABASE_URL="mysql://u:pw@host/db"),
    ("replay",): bad("replay", says=("expected Kafka bootstrap servers, host:port",),
                     AR_KAFKA_BOOTSTRAP="kafka"),
    ("restore",): bad("restore", "--workers", "0", says=("greater than or equal to 1",)),
    ("demo",): bad("demo", "--events", "0", says=("greater than or equal to 1",)),
    ("councils", "import"): bad("councils", "import", "FILE/councils.csv",
                                says=("neither the project's format", "--format")),
    ("councils", "sample"): bad("councils", "sample", "--out", "FILE/no/such/dir/x.csv",
                                says=("No such file or directory", "give the path")),
    ("publication", "run"): bad("publication", "run", "--now", "2020-07-29",
                                says=("give the time zone",)),
    ("publication", "status"): bad("publication", "status", says=(SETTING,),
                                   AR_LOG_LEVEL="verbose"),
    ("serve", "projector"): bad("serve", "projector", says=(SETTING,), AR_LOG_LEVEL="LOUD"),
    ("serve", "letters"): bad("serve", "letters", says=("expected Kafka bootstrap",),
                              AR_KAFKA_BOOTSTRAP=""),
    ("serve", "web"): bad("serve", "web", says=("expected PostgreSQL DSN",),
                          AR_DATABASE_URL="sqlite:///x.db"),
    ("serve", "publication"): bad("serve", "publication", says=(SETTING,), AR_LOG_LEVEL="x"),
    ("serve", "office"): bad("serve", "office", says=("AR_OFFICE_", "loopback"),
                             AR_OFFICE_BASE_URL="https://office.example",
                             AR_OFFICE_INSECURE_COOKIES="true"),
    ("serve", "smtp"): bad("serve", "smtp", "--port", "99999",
                           says=("less than or equal to 65535",)),
    ("dlq", "list"): bad("dlq", "list", "--state", "closed",
                         says=("open, redriven, resolved, parked, all",)),
    ("dlq", "redrive"): bad("dlq", "redrive", "seven", says=("valid integer",)),
    ("dlq", "resolve"): bad("dlq", "resolve", "7", "--note", " ", says=("give a reason",)),
    ("letters", "list"): bad("letters", "list", "--state", "lost",
                             says=("held, pending, rendered, sending, sent, failed, uncertain",)),
    ("letters", "show"): bad("letters", "show", "MAN", "2019-20", "--version", "0",
                             says=("greater than or equal to 1",)),
    ("letters", "export"): bad("letters", "export", "FILE/out", "--year", "2019",
                               says=(YEAR_FORM,)),
    ("letters", "case-list"): bad("letters", "case-list", "MAN", "2019/20", "--csv",
                                  says=(YEAR_FORM,)),
    ("letters", "release"): bad("letters", "release", "M", "2019-20", "--note", "ok",
                                says=(CODE_FORM,)),
    ("letters", "resend"): bad("letters", "resend", "MAN", "19-20", "--note", "ok",
                               says=(YEAR_FORM,)),
    ("letters", "confirm-sent"): bad("letters", "confirm-sent", "MAN", "2019-20", "--note", "",
                                     says=("give a reason",)),
    ("letters", "withdraw"): bad("letters", "withdraw", "MAN", "2019-20", "--reason", "  ",
                                 says=("give a reason",)),
    ("letters", "reissue"): bad("letters", "reissue", "MAN", "2019-20", "--reason", "r",
                                "--letter-date", "22/07/2020", says=("use YYYY-MM-DD",)),
    ("letters", "proof"): bad("letters", "proof", "2018-19", "--narrative",
                              "FILE/narrative.md", code=REFUSED, says=(LETTER_YEARS,)),
    ("letters", "narrative", "check"): bad("letters", "narrative", "check", "FILE/latin1.md",
                                           code=REFUSED, says=("is not UTF-8 text",)),
    # The issue's own example: a pydantic traceback before.
    ("letters", "narrative", "set"): bad("letters", "narrative", "set", "2018-19",
                                         "FILE/narrative.md", "--format", "2020",
                                         says=(LETTER_YEARS,)),
    ("letters", "narrative", "show"): bad("letters", "narrative", "show", "2019",
                                          says=(LETTER_YEARS,)),
    ("letters", "narrative", "list"): bad("letters", "narrative", "list",
                                          says=("expected Kafka bootstrap",),
                                          AR_KAFKA_BOOTSTRAP="127.0.0.1:1, 127.0.0.1:2"),
    # A backup goes into a new folder; a folder without a manifest is no backup.
    ("log", "export"): bad("log", "export", "FILE/", says=("is not empty",)),
    ("log", "verify"): bad("log", "verify", "FILE/", code=REFUSED, says=("did not finish",)),
    ("log", "import"): bad("log", "import", "FILE/", code=REFUSED, says=("did not finish",)),
}  # fmt: skip


@pytest.fixture(autouse=True)
def fresh_settings() -> Iterator[None]:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _commands(group: typer.core.TyperGroup, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    subs = getattr(group, "commands", {})
    if not subs:
        return [path]
    return [p for name, sub in subs.items() for p in _commands(sub, (*path, name))]


def invoke(args: tuple[str, ...], env: dict[str, str], files: Path) -> Result:
    argv = [a.replace("FILE/", f"{files}/") for a in args]
    return runner.invoke(app, argv, env={**NOWHERE, **env})


def test_every_command_has_a_bad_input_case() -> None:
    paths = _commands(typer.main.get_command(app))  # type: ignore[arg-type]
    assert len(paths) > 30
    assert set(paths) == set(CASES), "a new command needs a bad-input case here"


@pytest.mark.parametrize("path", sorted(CASES), ids=" ".join)
def test_bad_input_is_refused_in_words_without_a_traceback(
    path: tuple[str, ...], files: Path
) -> None:
    case = CASES[path]
    result = invoke(case.args, case.env, files)
    output = " ".join(result.output.split())  # rich wraps long messages in a box
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.exit_code == case.code, result.output
    for words in case.says:
        assert " ".join(words.split()) in output, result.output
    assert "secret" not in result.output and "pw@" not in result.output


def test_a_contract_refusal_that_escapes_a_command_is_one_message(files: Path) -> None:
    """`--by` longer than the NarrativeRegistered event allows: its ValidationError is raised
    after the command's own checks, and the app's root group turns it into a message."""
    result = invoke(
        ("letters", "narrative", "set", "2026", "FILE/narrative.md", "--by", "x" * 201, "--json"),
        {},
        files,
    )
    assert result.exit_code == REFUSED, result.output
    assert "Traceback" not in result.output
    assert "registered_by: String should have at most 200 characters" in result.output
    assert '"exit_code": 1' in result.output  # --json: the scripts get it too


def test_the_installed_command_has_no_traceback_either(files: Path) -> None:
    """Issue 17's example through a real process (typer's own entry, not the test runner)."""
    proc = subprocess.run(
        [sys.executable, "-m", "services.cli", "letters", "narrative", "set", "2018-19",
         str(files / "narrative.md"), "--format", "2020"],
        cwd=REPO, env={**NOWHERE, "PATH": "/usr/bin:/bin"}, capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == WRONG
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "ValidationError" not in proc.stdout + proc.stderr
    assert LETTER_YEARS in " ".join(proc.stderr.replace("│", " ").split())


def test_the_narrative_advice_never_names_a_refused_format() -> None:
    from services.domain.letter_formats import UnsupportedLetterYear, format_for

    for year in (2019, 2027, 2100, 2101):
        try:
            format_for(year)
        except UnsupportedLetterYear as e:
            if "--format" in str(e):  # the advice given must then be accepted
                suggested = str(e).split("--format ")[1].split("`")[0]
                assert format_for(year, suggested) == suggested  # type: ignore[arg-type]
            else:
                assert LETTER_YEARS in str(e)
    with pytest.raises(UnsupportedLetterYear, match=re.escape(LETTER_YEARS)):
        format_for(2019, "2020")  # a format given does not make a 2019 letter


# --- the mechanism, on an app of its own ---------------------------------------------------


class Payload(BaseModel):
    year: Annotated[int, Field(ge=2020)]


probe = typer.Typer(cls=RefusingGroup)


@probe.command("validation")
def _validation() -> None:
    Payload(year=2019)


@probe.command("domain")
def _domain() -> None:
    raise ValueError("a comparison group is County, District, Unitary, ...")


@probe.command("rejected")
def _rejected() -> None:
    raise RejectedMessage(Reason.BAD_ENVELOPE, "council must be 3 to 10 letters or digits")


@probe.command("file")
def _file() -> None:
    Path("/no/such/file.csv").read_text()


@probe.command("bug")
def _bug() -> None:
    raise RuntimeError("a bug is not bad input")


@pytest.mark.parametrize(
    ("command", "code", "says"),
    [
        ("validation", REFUSED, "year: Input should be greater than or equal to 2020 (got 2019)"),
        ("domain", REFUSED, "refused: a comparison group is County, District, Unitary"),
        ("rejected", REFUSED, "council must be 3 to 10 letters or digits"),
        ("file", WRONG, "/no/such/file.csv: No such file or directory"),
    ],
)
def test_the_root_group_turns_each_kind_of_bad_input_into_a_message(
    command: str, code: int, says: str
) -> None:
    result = runner.invoke(probe, [command], env={"NO_COLOR": "1", "COLUMNS": "250"})
    assert result.exit_code == code
    assert says in result.output
    assert "Traceback" not in result.output


def test_a_bug_is_not_disguised_as_bad_input() -> None:
    result = runner.invoke(probe, ["bug"])
    assert isinstance(result.exception, RuntimeError)


def test_narrative_check_refuses_link_definitions_only_and_placeholders_in_addresses(
    files: Path,
) -> None:
    (files / "references.md").write_text("[site]: https://www.lgo.org.uk\n", encoding="utf-8")
    (files / "address.md").write_text(
        "See [us](https://www.lgo.org.uk/{council_name}).\n", encoding="utf-8"
    )
    nothing = invoke(("letters", "narrative", "check", "FILE/references.md"), {}, files)
    assert nothing.exit_code == REFUSED
    assert "references.md:1: the document prints nothing" in nothing.output
    address = invoke(("letters", "narrative", "check", "FILE/address.md"), {}, files)
    assert address.exit_code == REFUSED
    assert "address.md:1: placeholders cannot be used in a link's address" in address.output
