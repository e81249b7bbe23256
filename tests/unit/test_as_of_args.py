"""`stats` and `explain` `--as-of` / `--until-offsets`: what the options accept, refused
before any server is asked (the figures themselves: tests/e2e/test_as_of.py,
tests/e2e/test_explain.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import typer
from typer.testing import CliRunner

from services.cli.as_of import parse_moment, parse_offsets
from services.cli.main import app

runner = CliRunner()


def test_a_moment_without_a_zone_is_utc_and_one_with_a_zone_keeps_it() -> None:
    assert parse_moment("2026-12-07T05:40:00") == datetime(2026, 12, 7, 5, 40, tzinfo=UTC)
    assert parse_moment("2026-12-07T05:40:00Z") == datetime(2026, 12, 7, 5, 40, tzinfo=UTC)
    summer = parse_moment("2026-07-07T06:40:00+01:00")
    assert summer.utcoffset() == timedelta(hours=1)
    assert summer == datetime(2026, 7, 7, 5, 40, tzinfo=UTC)


def test_offsets_are_partition_equals_offset_pairs() -> None:
    assert parse_offsets("0=120,1=98, 5=0") == {0: 120, 1: 98, 5: 0}
    for wrong in ("0:120", "a=1", "0=1,2"):
        with pytest.raises(typer.BadParameter):
            parse_offsets(wrong)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--as-of", "yesterday"), "ISO 8601"),
        (("--until-offsets", "0:12"), "PARTITION=OFFSET"),
        (("--as-of", "2026-12-07", "--until-offsets", "0=1"), "not both"),
    ],
)
@pytest.mark.parametrize(
    "command",
    [("stats", "MAN", "2019-20"), ("explain", "MAN", "2019-20"), ("explain", "CASE-1")],
)
def test_wrong_as_of_options_are_refused_in_words(
    command: tuple[str, ...], args: tuple[str, ...], says: str
) -> None:
    result = runner.invoke(app, [*command, *args])
    assert result.exit_code == 2, result.output  # docs/cli.md: wrong arguments
    assert says in result.output
    assert "Traceback" not in result.output
