"""README's "Layout" is a true map of the code, in both directions; so are docs/domain.md's
links to the tests and the code's citations of it.

Every Python package (a folder with ``__init__.py``) under contracts/, services/, tools/ and
bench/ is named in the map by its path, and every path the map names exists, so a new
package without a line fails here, and so does a line left behind by a move. Every test
docs/domain.md names exists, and every "docs/domain.md §N" in the repository is a section.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
PACKAGE_ROOTS = ("contracts", "services", "tools", "bench")
# A path in the map: a top-level folder of the repository, then folders or a file.
MAPPED_PATH = re.compile(
    r"(?<![\w/.-])((?:contracts|services|tools|bench|tests|infra|docs)/[\w./-]*)"
)


def layout_block(readme: str) -> str:
    """The fenced block under the ``## Layout`` heading."""
    section = readme.split("\n## Layout\n", 1)
    assert len(section) == 2, "README.md has no '## Layout' section"
    fence = re.search(r"```\n(.*?)\n```", section[1], re.DOTALL)
    assert fence is not None, "README.md's Layout section has no fenced map"
    return fence.group(1)


def mapped_paths(block: str) -> set[str]:
    return {m.rstrip(".") for m in MAPPED_PATH.findall(block)}


def packages() -> set[str]:
    found = set()
    for top in PACKAGE_ROOTS:
        for init in (ROOT / top).rglob("__init__.py"):
            folder = init.parent.relative_to(ROOT)
            if any(part.startswith(".") or part == "__pycache__" for part in folder.parts):
                continue
            found.add(f"{folder.as_posix()}/")
    return found


def is_named(package: str, named: set[str]) -> bool:
    """A package is named by its own path; a top-level folder (``services/``) also by the
    paths of the packages inside it, which the map lists one by one."""
    if package in named:
        return True
    return package.count("/") == 1 and any(p.startswith(package) for p in named)


def test_every_package_is_named_in_the_readme_map() -> None:
    named = mapped_paths(layout_block(README.read_text(encoding="utf-8")))
    missing = sorted(p for p in packages() if not is_named(p, named))
    assert not missing, f"packages missing from README.md's Layout: {missing}"


def test_every_path_the_readme_map_names_exists() -> None:
    named = mapped_paths(layout_block(README.read_text(encoding="utf-8")))
    assert len(named) >= len(PACKAGE_ROOTS), f"the map names too little: {sorted(named)}"
    stale = sorted(p for p in named if not (ROOT / p).exists())
    assert not stale, f"README.md's Layout names paths that do not exist: {stale}"


def test_the_map_reader_finds_paths_and_ignores_prose() -> None:
    # The checks above are only as good as the reader: a package line and a path inside a
    # description are found, words that merely contain a slash are not.
    block = (
        "services/web/      the site (content/), see docs/web.md\n"
        "tools/docgen/      `python -m tools.docgen`: and/or"
    )
    assert mapped_paths(block) == {"services/web/", "docs/web.md", "tools/docgen/"}


def test_a_sub_package_is_named_only_by_its_own_path() -> None:
    named = {"services/letters/", "services/web/"}
    assert is_named("services/", named)
    assert is_named("services/letters/", named)
    assert not is_named("services/letters/templates/", named)
    assert not is_named("tools/", named)


# --- docs/domain.md: the tests it names and the sections code cites ----------------------

DOMAIN = ROOT / "docs" / "domain.md"
TEST_REFERENCE = re.compile(r"`(tests/[\w/]+\.py)?::(test_\w+)`")
SECTION_CITATION = re.compile(r"docs/domain\.md\s+§(\d+)")


def named_tests(text: str) -> list[tuple[str, str]]:
    """(file, test) of every ``tests/x.py::test_y`` in ``text``; a bare ``::test_y`` is of
    the file named last before it."""
    found, current = [], ""
    for match in TEST_REFERENCE.finditer(text):
        current = match.group(1) or current
        found.append((current, match.group(2)))
    return found


def test_every_test_the_domain_rules_name_exists() -> None:
    named = named_tests(DOMAIN.read_text(encoding="utf-8"))
    assert len(named) > 50, "docs/domain.md names fewer tests than it should"
    missing = [
        f"{path}::{name}"
        for path, name in named
        if not path
        or not (ROOT / path).is_file()
        or not re.search(rf"def {name}\(", (ROOT / path).read_text(encoding="utf-8"))
    ]
    assert not missing, f"docs/domain.md names tests that do not exist: {missing}"


def test_every_section_the_code_cites_is_in_the_domain_rules() -> None:
    sections = set(re.findall(r"^## §(\d+) ", DOMAIN.read_text(encoding="utf-8"), re.M))
    cited: dict[str, set[str]] = {}
    for top in (*PACKAGE_ROOTS, "tests", "docs"):
        for path in (ROOT / top).rglob("*"):
            if path.suffix not in {".py", ".md", ".j2", ".sql", ".json"} or not path.is_file():
                continue
            for number in SECTION_CITATION.findall(path.read_text(encoding="utf-8")):
                cited.setdefault(number, set()).add(path.relative_to(ROOT).as_posix())
    assert cited, "nothing cites docs/domain.md: the reader is broken"
    unknown = {n: sorted(files) for n, files in cited.items() if n not in sections}
    assert not unknown, f"citations of docs/domain.md sections that do not exist: {unknown}"


def test_a_bare_test_name_belongs_to_the_file_named_before_it() -> None:
    text = "`tests/unit/a.py::test_one`, `::test_two`; `tests/e2e/b.py::test_three`"
    assert named_tests(text) == [
        ("tests/unit/a.py", "test_one"),
        ("tests/unit/a.py", "test_two"),
        ("tests/e2e/b.py", "test_three"),
    ]
