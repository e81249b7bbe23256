"""The hashed locks (docs/security.md, "Dependencies") match pyproject.toml and are what installs.

A dependency added to or re-pinned in pyproject.toml without `make lock` fails here, not in a
production install.
"""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
DEV_LOCK = ROOT / "requirements-dev.lock"
RUNTIME_LOCK = ROOT / "requirements.lock"


def _lock(path: Path) -> dict[str, tuple[str, frozenset[str]]]:
    """name -> (version, sha256 hashes) of a `uv pip compile --generate-hashes` file."""
    entries: dict[str, tuple[str, frozenset[str]]] = {}
    # Join the backslash continuations, drop the comments: one requirement per line.
    text = re.sub(r"\\\n", " ", path.read_text())
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        spec, *options = shlex.split(line)
        requirement = Requirement(spec)
        (pin,) = requirement.specifier  # exactly one `==` per line
        assert pin.operator == "==", line
        hashes = frozenset(o.removeprefix("--hash=sha256:") for o in options)
        assert all(o.startswith("--hash=sha256:") for o in options), line
        entries[canonicalize_name(requirement.name)] = (pin.version, hashes)
    return entries


DEV = _lock(DEV_LOCK)
RUNTIME = _lock(RUNTIME_LOCK)


def _direct(extra: str | None) -> list[Requirement]:
    project = PYPROJECT["project"]
    specs = project["dependencies"] if extra is None else project["optional-dependencies"][extra]
    return [Requirement(s) for s in specs]


def test_every_direct_dependency_is_pinned_in_pyproject() -> None:
    for requirement in _direct(None) + _direct("dev"):
        assert [s.operator for s in requirement.specifier] == ["=="], str(requirement)


def test_every_pin_in_pyproject_is_in_the_locks_at_the_same_version() -> None:
    for lock, requirements in (
        (DEV, _direct(None) + _direct("dev")),
        (RUNTIME, _direct(None)),
    ):
        for requirement in requirements:
            name = canonicalize_name(requirement.name)
            assert name in lock, f"{name} is not locked: run `make lock`"
            version = lock[name][0]
            assert requirement.specifier.contains(version), (
                f"{name}: pyproject.toml says {requirement.specifier}, the lock {version}: "
                "run `make lock`"
            )


def test_the_build_backend_is_locked_for_the_no_build_isolation_installs() -> None:
    for requirement in map(Requirement, PYPROJECT["build-system"]["requires"]):
        for lock in (DEV, RUNTIME):
            name = canonicalize_name(requirement.name)
            assert name in lock and requirement.specifier.contains(lock[name][0]), name


def test_every_locked_distribution_has_hashes() -> None:
    for lock in (DEV, RUNTIME):
        for name, (_, hashes) in lock.items():
            assert hashes and all(re.fullmatch(r"[0-9a-f]{64}", h) for h in hashes), name


def test_the_runtime_lock_is_the_dev_locks_runtime_part_without_the_dev_tools() -> None:
    for name, entry in RUNTIME.items():
        assert DEV.get(name) == entry, f"{name} differs between the locks: run `make lock`"
    dev_only = {canonicalize_name(r.name) for r in _direct("dev")} - {
        canonicalize_name(r.name) for r in _direct(None)
    }
    assert not dev_only & RUNTIME.keys()


def test_the_installs_use_the_locks_with_hashes() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    runs = [shlex.split(m) for m in re.findall(r"^RUN (pip install .*)$", dockerfile, re.M)]
    assert ["pip", "install", "--require-hashes", "--no-deps", "-r", "requirements.lock"] in runs
    # The project itself: nothing resolved, no build dependency fetched outside the lock.
    for argv in runs:
        assert "--require-hashes" in argv or {"--no-deps", "--no-build-isolation"} <= set(argv)
    assert "COPY requirements.lock" in dockerfile
    assert "requirements.lock" not in (ROOT / ".dockerignore").read_text()
    ctl = (ROOT / "infra/ctl.sh").read_text()
    assert re.search(r"--require-hashes --no-deps -r \"\$DEV_LOCK\"", ctl)
    assert "--no-deps --no-build-isolation -e ." in ctl
    # The venv is reinstalled when the lock changes, not only pyproject.toml.
    assert re.search(r"want=\$\(cat \"\$DEV_LOCK\" \"\$AR_ROOT/pyproject.toml\" \| sha256sum", ctl)
