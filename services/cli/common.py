"""What every command shares: consoles, exit codes, errors that say what to do, JSON
output, option parsers and running a coroutine (progress: services/cli/progress.py)."""

from __future__ import annotations

import asyncio
import enum
import json
import re
from collections.abc import Callable, Coroutine
from datetime import date
from typing import Any, NoReturn, TypeVar

import typer
from aiokafka.errors import KafkaError
from pydantic import ValidationError
from rich.console import Console

from contracts.financial_year import FinancialYear, NotAFinancialYear
from services.platform.office_signature import MissingOfficeKey
from services.platform.settings import Settings, get_settings, redact_url

T = TypeVar("T")

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


class ExitCode(enum.IntEnum):
    """Documented in docs/cli.md; scripts can rely on them."""

    OK = 0
    INVALID_INPUT = 1  # the input was refused: nothing was published
    USAGE = 2  # wrong arguments or configuration
    UNAVAILABLE = 3  # a server (Kafka) could not be reached, or a topic is missing
    PARTIAL = 4  # failed part-way: some events were published
    INTERRUPTED = 130


def fail(
    message: str,
    *,
    hint: str | None = None,
    code: ExitCode = ExitCode.USAGE,
    as_json: bool = False,
) -> NoReturn:
    """Print ``error: message`` (and what to do) on stderr and exit with ``code``; with
    ``as_json``, also ``{"error", "hint", "exit_code"}`` on stdout for the calling script."""
    if as_json:
        print_json({"error": message, "hint": hint, "exit_code": int(code)})
    err.print(f"[bold red]error:[/] {message}", markup=True, soft_wrap=True)
    if hint:
        err.print(f"[yellow]hint:[/] {hint}", markup=True, soft_wrap=True)
    raise typer.Exit(int(code))


def print_json(value: Any) -> None:
    """Machine-readable output on stdout, nothing else on it."""
    typer.echo(json.dumps(value, indent=2, default=str, ensure_ascii=False))


def settings() -> Settings:
    try:
        return get_settings()
    except ValidationError as e:
        problems = "; ".join(_setting_problem(problem) for problem in e.errors(include_url=False))
        fail(
            f"the configuration from the environment is invalid: {problems}",
            hint="check the AR_* environment variables (`annual-review config --help`)",
        )


def _setting_problem(problem: Any) -> str:
    """``AR_NAME: what is wrong (got 'value')``, in words: a pattern is explained by the
    setting's description, and a URL's password is masked."""
    name = ".".join(str(x) for x in problem["loc"])
    message = problem["msg"]
    field = Settings.model_fields.get(name)
    if problem["type"] == "string_pattern_mismatch" and field and field.description:
        message = f"expected {field.description}"
    given = problem.get("input")
    shown = redact_url(given) if isinstance(given, str) else given
    return f"AR_{name.upper()}: {message} (got {shown!r})"


def run(coro: Coroutine[Any, Any, T]) -> T:
    try:
        return asyncio.run(coro)
    except KeyboardInterrupt:
        err.print("interrupted")
        raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
    except MissingOfficeKey as e:  # refused before anything was sent
        fail(
            f"{e}; nothing was published",
            hint="the office's key is .local/secrets/office-signing.key (`infra/ctl.sh secrets`)",
            code=ExitCode.INVALID_INPUT,
        )


# --- option parsers (typer ``parser=``): a wrong value gets a message saying the form ---


def parse_year(text: str | FinancialYear) -> FinancialYear:
    if isinstance(text, FinancialYear):  # a default value
        return text
    try:
        return FinancialYear.parse(text)
    except NotAFinancialYear as e:
        raise typer.BadParameter(f"{e} (e.g. 2019-20)") from None


def parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not a date: use YYYY-MM-DD (e.g. 2020-07-22)"
        ) from None


def parse_share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a number: use a share such as 0.01") from None
    if not 0 <= value <= 1:
        raise typer.BadParameter(f"{text} is not a share between 0 and 1 (0.01 means 1%)")
    return value


# A council code as the events carry it (contracts.values.CouncilCode): checked before any
# server is asked, so that `stats man! 2019-20` says what a code is instead of "not found".
_COUNCIL_CODE = re.compile(r"[A-Z0-9]{3,10}")


def parse_council(text: str) -> str:
    code = text.strip().upper()
    if not _COUNCIL_CODE.fullmatch(code):
        raise typer.BadParameter(
            f"{text!r} is not a council code: 3 to 10 letters or digits, e.g. MAN"
        )
    return code


def one_of(*allowed: str) -> Callable[[str], str]:
    """A parser for an option with a fixed set of values (the message lists them)."""

    def parse(text: str) -> str:
        if text not in allowed:
            raise typer.BadParameter(f"{text!r} is not one of {', '.join(allowed)}")
        return text

    return parse


def parse_note(text: str) -> str:
    """A reason kept with an operator's decision: some words, not an empty string."""
    if not text.strip():
        raise typer.BadParameter("give a reason in words: it is kept with the decision")
    return text.strip()


KAFKA_HINT = "run `make up` first (it starts Kafka), or check AR_KAFKA_BOOTSTRAP"


async def on_audit_trail(coro: Coroutine[Any, Any, T]) -> T:
    """An operator's decision that records itself on the audit trail (services/audit/):
    Kafka away gives a clear error, never a traceback. The connection is made before the
    decision, so Kafka away at the start changes nothing; lost in between, the decision
    may be made but not recorded, and the error says to check."""
    try:
        return await coro
    except KafkaError as e:
        fail(
            f"Kafka did not answer ({type(e).__name__}): if it was away from the start nothing "
            "was done; otherwise the decision may be made but not on the audit trail: check "
            "its state (`letters list`, `dlq list`) before trying again",
            hint=KAFKA_HINT,
            code=ExitCode.UNAVAILABLE,
        )
