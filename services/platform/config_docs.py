"""docs/configuration.md, generated from the settings classes so it cannot drift.

``python -m services.platform.config_docs write`` regenerates it; ``check`` exits 1 when
the checked-in file is stale (a unit test runs the same check).
"""

from __future__ import annotations

import sys
from pathlib import Path

from pydantic_settings import BaseSettings

from services.letters.config import LettersSettings
from services.platform.kafka_tls import KafkaTlsSettings
from services.platform.settings import Settings
from services.projector.config import ProjectorSettings

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
SECTIONS: tuple[tuple[str, type[BaseSettings]], ...] = (
    ("Every process", Settings),
    ("Kafka over TLS (every process; read when the protocol is SSL or SASL_SSL)", KafkaTlsSettings),
    ("Projector", ProjectorSettings),
    ("Letter service", LettersSettings),
)


def render() -> str:
    lines = [
        "# Configuration",
        "",
        "Every setting is an environment variable. The defaults point at the local servers",
        "that `make up` starts; `annual-review config` prints the effective values with",
        "passwords masked. Lists are given as JSON (`AR_LETTERS_CC='[\"a@b.example\"]'`).",
        "",
        "Generated from the settings classes by `python -m services.platform.config_docs write`.",
    ]
    for title, cls in SECTIONS:
        prefix = str(cls.model_config.get("env_prefix", ""))
        lines += ["", f"## {title}", "", "| variable | default | meaning |", "|---|---|---|"]
        for name, field in cls.model_fields.items():
            default = field.get_default(call_default_factory=True)
            shown = "(none)" if default is None else f"`{default}`" if default != "" else "(empty)"
            if hasattr(default, "value"):
                shown = f"`{default.value}`"
            meaning = (field.description or "").replace("|", "\\|")
            lines.append(f"| `{(prefix + name).upper()}` | {shown} | {meaning} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if argv[1:] == ["write"]:
        DOC.write_text(text)
        print(f"wrote {DOC}")
        return 0
    if argv[1:] == ["check"]:
        if DOC.exists() and DOC.read_text() == text:
            return 0
        print(f"{DOC} is stale: run `python -m services.platform.config_docs write`")
        return 1
    print("usage: python -m services.platform.config_docs write|check")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
