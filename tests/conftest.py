"""Top-level test configuration: markers by folder and skip logic for optional inputs.

tests/integration, tests/e2e and tests/reliability need the project-local servers
(`make up`); their tests are marked accordingly, so `pytest -m "not integration"` and the
like select by kind.
"""

from __future__ import annotations

from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = TESTS_DIR.parent
# Shared, licensed data that must not be copied into the repository (../shared/data).
SHARED_DATA_DIR = REPO_ROOT.parent / "shared" / "data"

# Server fixtures (settings, pg_pool, kafka_bootstrap, stack) for every folder.
pytest_plugins = ("tests.support.fixtures",)

_FOLDER_MARKERS = {
    "integration": pytest.mark.integration,
    "e2e": pytest.mark.e2e,
    "reliability": pytest.mark.reliability,
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        try:
            folder = item.path.resolve().relative_to(TESTS_DIR).parts[0]
        except (ValueError, IndexError):
            continue
        marker = _FOLDER_MARKERS.get(folder)
        if marker is not None:
            item.add_marker(marker)


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    """``../shared/data`` next to the checkout; skips the test when it is not there."""
    if not (SHARED_DATA_DIR / "uk_local_authorities.csv").is_file():
        pytest.skip(
            f"shared data not found at {SHARED_DATA_DIR} (copy ../shared next to the checkout)"
        )
    return SHARED_DATA_DIR
