"""``--help`` in the words an operator uses: YEAR, DATE, FILE, N, never a Python type.

typer (0.29) prints each option's Python type in angle brackets (``<bool>``,
``<FinancialYear>``, ``<list[str]>``) beside it. ``readable_help`` walks every command once,
when the root group is built, and gives each parameter a metavar saying what to type
instead: nothing for a flag, ``YEAR`` for a financial year (written 2024-25 in every help
text), ``DATE`` for an ISO date (2025-07-23), and so on. A metavar a command sets itself is
kept. tests/unit/test_cli_help.py checks every command's help for a ``<type>`` left over.
"""

from __future__ import annotations

import typing
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

from contracts.financial_year import FinancialYear

# What to type, by the annotation's type (a list's items are named by their own type).
_METAVARS: dict[Any, str] = {
    FinancialYear: "YEAR",
    date: "DATE",
    int: "N",
    float: "NUMBER",
    str: "TEXT",
    UUID: "UUID",
    Path: "PATH",
}
_PATH_KINDS = {"file": "FILE", "dir": "FOLDER", "directory": "FOLDER"}


class _UntypedArgument(TyperArgument):
    """An argument whose name (YEAR, COUNCIL, FILE) already says what to type."""

    def display_type_rich(self, ctx: Any) -> str | None:
        return None


def metavar_for(param: TyperOption) -> str:
    """The word shown after an option: '' for a flag, else what its value is."""
    if param.is_flag:
        return ""
    descriptor = param.type_descriptor
    if descriptor.is_choice:
        return "[" + "|".join(str(c) for c in descriptor.choices or ()) + "]"
    if descriptor.is_path:
        return _PATH_KINDS.get(descriptor.path_type, "PATH")
    annotation: Any = descriptor.annotation
    if typing.get_origin(annotation) is list:
        (annotation,) = typing.get_args(annotation)
    return _METAVARS.get(annotation, param.name.upper() if param.name else "VALUE")


def readable_help(command: TyperCommand | TyperGroup, help_option_names: list[str]) -> None:
    """Give every parameter of ``command`` and its subcommands a readable metavar."""
    # The --help option is made on first use and then cached: make it now, to name it too.
    context = typer.Context(command, help_option_names=help_option_names)
    help_option = command.get_help_option(context)
    for param in [*command.params, *([help_option] if help_option else [])]:
        if isinstance(param, TyperArgument):
            # typer shows an argument's Python type whatever its metavar: this class does not.
            param.__class__ = _UntypedArgument
            if param.metavar is None and param.name:  # FILE in the usage line, not {file}
                param.metavar = param.name.upper()
        elif isinstance(param, TyperOption) and param.metavar is None:
            param.metavar = metavar_for(param)
    for sub in getattr(command, "commands", {}).values():
        readable_help(sub, help_option_names)
