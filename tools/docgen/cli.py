"""``python -m tools.docgen [write|check] [--root DIR]``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from tools.docgen.files import stale_files, write
from tools.docgen.paths import ROOT, WRITE_COMMAND


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.docgen",
        description="Generate (write, the default) or verify (check) docs/events.md, "
        "docs/schemas/*.json, docs/asyncapi.json and docs/configuration.md from the code.",
    )
    parser.add_argument("command", nargs="?", default="write", choices=("write", "check"))
    parser.add_argument("--root", type=Path, default=ROOT, help="repository root")
    args = parser.parse_args(argv)
    if args.command == "write":
        changed = write(args.root)
        print("\n".join(f"wrote {p}" for p in changed) if changed else "everything up to date")
        return 0
    problems = stale_files(args.root)
    if problems:
        print("\n".join(problems), file=sys.stderr)
        print(
            f"{len(problems)} generated file(s) out of date: run `{WRITE_COMMAND}`",
            file=sys.stderr,
        )
        return 1
    print("generated documentation is up to date")
    return 0
