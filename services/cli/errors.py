"""The one place where a command's refusal becomes a message: bad input never ends in a
traceback.

Commands check what they can themselves and say what to do (``common.fail``). Whatever
still escapes a command because the input was wrong — a contract's ``ValidationError``, a
domain type's ``ValueError``, a ``RejectedMessage``, a file that cannot be read — is caught
here, around every command of the app (``RefusingGroup`` is the root group's class, so a new
command is covered without doing anything), and printed as one ``error:`` line that says
what is allowed, with the exit code docs/cli.md gives: 1 for refused input, 2 for a file
that is missing or unreadable. The traceback is logged at DEBUG (``AR_LOG_LEVEL=DEBUG``)
for whoever needs it, without local variables (services/platform/logging.py).

Anything else (a bug) is not disguised as bad input: it still ends in a traceback, which
typer prints without local variables (``pretty_exceptions_show_locals=False``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from typer.core import TyperGroup

from contracts.codec import RejectedMessage, describe
from services.cli.common import ExitCode, fail

# The standard library's logger: silent until configure_logging has run (structlog's default
# would print the traceback on stdout when AR_LOG_LEVEL was refused).
log = logging.getLogger(__name__)
_ARGS = "annual_review.args"


@dataclass(frozen=True, slots=True)
class Refusal:
    message: str
    hint: str | None
    code: ExitCode


def refusal_of(error: BaseException) -> Refusal | None:
    """What to tell the operator about an error raised by bad input; None for anything else."""
    if isinstance(error, ValidationError):
        # describe(): every field with pydantic's rule ("should be greater than or equal to
        # 2020") and the value given, which is what is allowed and what was not.
        return Refusal(
            f"refused: {describe(error)}",
            "change the values named above to ones allowed; nothing was published",
            ExitCode.INVALID_INPUT,
        )
    if isinstance(error, RejectedMessage):
        return Refusal(
            f"refused: {error}",
            "the event contracts are in docs/events.md; nothing was published",
            ExitCode.INVALID_INPUT,
        )
    if isinstance(error, UnicodeDecodeError):
        return Refusal(
            f"the input is not UTF-8 text ({error.reason} at byte {error.start})",
            "save the file as UTF-8 text",
            ExitCode.INVALID_INPUT,
        )
    if isinstance(error, ValueError):
        return Refusal(f"refused: {error}", None, ExitCode.INVALID_INPUT)
    if isinstance(error, OSError) and error.filename is not None:
        # A missing or unreadable file is a wrong argument (docs/cli.md: exit 2); an OSError
        # without a file name is a network failure, which each command reports itself.
        return Refusal(
            f"{error.filename}: {error.strerror or error}",
            "give the path of a file that exists and can be read (or a folder that can be "
            "written, where the command writes one)",
            ExitCode.USAGE,
        )
    return None


class RefusingGroup(TyperGroup):
    """The root command group: runs the command asked for, and turns bad input that escaped
    it into a message (``refusal_of``) instead of a traceback."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        ctx.meta[_ARGS] = list(args)  # to answer in JSON when the command was asked for it
        rest: list[str] = super().parse_args(ctx, args)
        return rest

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (ValueError, ValidationError, RejectedMessage, OSError) as error:
            refusal = refusal_of(error)
            if refusal is None:
                raise
            log.debug("command refused its input", exc_info=True)
            args: Sequence[str] = ctx.meta.get(_ARGS, ())
            fail(refusal.message, hint=refusal.hint, code=refusal.code, as_json="--json" in args)
