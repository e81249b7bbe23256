"""docs/configuration.md, generated from the settings classes so it cannot drift."""

from __future__ import annotations

from pydantic_settings import BaseSettings

from services.letters.config import LettersSettings
from services.office.config import OfficeSettings
from services.platform.settings import Settings
from services.projector.config import ProjectorSettings
from services.publication.config import PublicationSettings
from services.web.config import WebSettings
from tools.docgen.paths import CONFIGURATION_MD, ROOT, WRITE_COMMAND

DOC = ROOT / CONFIGURATION_MD
SECTIONS: tuple[tuple[str, type[BaseSettings]], ...] = (
    ("Every process", Settings),
    ("Projector", ProjectorSettings),
    ("Letter service", LettersSettings),
    ("Web site", WebSettings),
    ("Publication job", PublicationSettings),
    ("Office workspace", OfficeSettings),
)


def render() -> str:
    lines = [
        "# Configuration",
        "",
        "Every setting is an environment variable. The defaults point at the local servers",
        "that `make up` starts; `annual-review config` prints the effective values with",
        "passwords masked. Lists are given as JSON (`AR_LETTERS_CC='[\"a@b.example\"]'`).",
        "",
        f"Generated from the settings classes by `{WRITE_COMMAND}`.",
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
