"""`annual-review explain` end to end (issue 20's must-show): a year with corrections,
withdrawals, a dead-lettered, a conflicting and a parked decision and late events; the
explanation's counts are the letter's figures, the cases left out say why, the late events
say what they changed; `explain` and `stats` `--as-of` three moments (the year open, closed,
after the late events) give what the live read models gave then, and so does a replay cut at
the same positions (`--until-offsets`); the same after `replay`."""

from __future__ import annotations

import asyncio
import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from contracts.codec import encode
from services.platform.namespace import service_env
from tests.e2e.test_operator_flow import cli, cli_json
from tests.support.casework import complied, corrected, decided, withdrawn
from tests.support.polling import eventually
from tests.support.stack import Stack

D = date(2019, 9, 2)
NEXT_YEAR = date(2020, 5, 4)
# Long enough that each moment lies strictly between two stages' append times, whatever
# the broker's millisecond clock does (as tests/e2e/test_as_of.py).
PAUSE_S = 1.5


@dataclass(frozen=True)
class Seen:
    """What the live read models said after a stage, where the log ended then, and a
    moment after that stage and before the next."""

    moment: datetime
    ends: dict[int, int]
    explain: dict[str, Any]
    stats: dict[str, Any]


async def look(stack: Stack) -> Seen:
    explained = cli_json(stack, "explain", "MAN", "2019-20")
    stats = cli_json(stack, "stats", "MAN", "2019-20")
    ends = await stack.end_offsets()
    await asyncio.sleep(PAUSE_S)
    moment = datetime.now(UTC)
    await asyncio.sleep(PAUSE_S)
    return Seen(moment, ends, explained, stats)


def without_as_of(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if k != "as_of"}


def assert_as_of_is_what_was_seen(
    stack: Stack, moments: list[Seen], commands: tuple[str, ...] = ("explain", "stats")
) -> None:
    """``explain`` (and ``stats``) ``--as-of`` each moment read the log to exactly where it
    ended then and give what the live read models gave then; a replay cut at the same
    positions (``--until-offsets``) gives the same."""
    jobs: list[tuple[Seen, str, str, str]] = []
    for seen in moments:
        offsets = ",".join(f"{p}={o}" for p, o in sorted(seen.ends.items()))
        for command in commands:
            jobs.append((seen, command, "--as-of", seen.moment.isoformat()))
            jobs.append((seen, command, "--until-offsets", offsets))
    # Each command is a process of its own folding into a scratch version of its own: they
    # run side by side (most of each one's time is the process starting).
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(
            pool.map(lambda j: cli_json(stack, j[1], "MAN", "2019-20", j[2], j[3]), jobs)
        )
    for (seen, command, option, value), got in zip(jobs, answers, strict=True):
        moment = seen.moment.isoformat() if option == "--as-of" else None
        positions = {str(p): o for p, o in sorted(seen.ends.items())}
        assert got["as_of"] == {"moment": moment, "positions": positions}, (command, value)
        live_then = seen.explain if command == "explain" else seen.stats
        assert without_as_of(got) == live_then, (command, option, value)


def write(path: Path, events: list[Any]) -> Path:
    path.write_text("".join(encode(e).decode() + "\n" for e in events))
    return path


def by_stat(x: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["statistic"]: s for s in x["statistics"]}


async def test_explain_a_closed_year_case_by_case_as_of_three_moments_and_after_replay(
    stack: Stack, tmp_path: Path
) -> None:
    stack.start("services.projector")
    sample = tmp_path / "councils.csv"
    assert cli(stack, "councils", "sample", "--out", str(sample)).returncode == 0
    assert cli_json(stack, "councils", "import", str(sample))["councils"] >= 10

    before_close = [
        decided("MAN", "E2E-UP", D, "upheld", remedy=True),
        decided("MAN", "E2E-NO", D, "not_upheld"),
        decided("MAN", "E2E-FIX", D, "not_upheld"),
        corrected("MAN", "E2E-FIX", D, "upheld"),  # corrected before the close: upheld
        decided("MAN", "E2E-GONE", D, "upheld"),
        withdrawn("MAN", "E2E-GONE", D),
        decided("MAN", "E2E-ADV", D, "advice_given"),
        decided("MAN", "E2E-MOVED", D, "upheld"),
        corrected("MAN", "E2E-MOVED", NEXT_YEAR, "upheld"),  # now in 2020-21
        decided("MAN", "E2E-LATER", D, "not_upheld"),
        corrected("MAN", "E2E-GHOST", D, "upheld"),  # no decision to correct: refused
        complied("MAN", "E2E-UP", D, implemented=True),
        decided("ZZZ", "E2E-STRAY", D, "upheld"),  # nobody registered ZZZ: parked
    ]
    assert cli(stack, "publish", str(write(tmp_path / "a.jsonl", before_close))).returncode == 0
    # Refused by the contract (a satisfactory remedy on a decision not upheld): the CLI
    # would not publish it, a case management system might.
    bad = json.loads(encode(decided("MAN", "E2E-BAD", D, "not_upheld")))
    bad["data"]["satisfactory_remedy"] = True
    await stack.publish_raw([(b"MAN", json.dumps(bad).encode())])
    await stack.wait_caught_up()
    open_year = await look(stack)
    assert open_year.explain["cut"] is False

    closed = cli(
        stack, "close-year", "2019-20", "--letter-date", "2020-07-22",
        "--publication-date", "2020-07-29", "--signatory-name", "Michael King",
        "--signatory-title", "Local Government and Social Care Ombudsman",
    )  # fmt: skip
    assert closed.returncode == 0, closed.stderr

    def snapshot() -> dict[str, int] | None:
        return cli_json(stack, "stats", "MAN", "2019-20")["snapshot"]  # type: ignore[no-any-return]

    letter = await eventually(snapshot, what="the year's snapshot", timeout=120, not_yet=())
    closed_year = await look(stack)

    late = [
        corrected("MAN", "E2E-NO", D, "upheld"),  # after the cut: not in the letter
        withdrawn("MAN", "E2E-LATER", D),
        decided("MAN", "E2E-NEW", D, "upheld"),
    ]
    assert cli(stack, "publish", str(write(tmp_path / "b.jsonl", late))).returncode == 0
    await stack.wait_caught_up()
    after_late = await look(stack)

    started = time.monotonic()
    x = cli_json(stack, "explain", "MAN", "2019-20")
    took = time.monotonic() - started
    stats = by_stat(x)
    assert x["cut"] is True
    # The explanation's counts are the letter's figures, case by case.
    for counter, value in letter.items():
        s = stats[counter]
        assert s["letter"] == value and s["letter_from_cases"] == value and s["consistent"]
        assert len(s["cases"]) == value, counter
    assert stats["investigations"]["letter"] == letter["upheld"] + letter["not_upheld"]
    assert sorted(c["case_reference"] for c in stats["upheld"]["cases"]) == ["E2E-FIX", "E2E-UP"]
    assert sorted(c["case_reference"] for c in stats["not_upheld"]["cases"]) == [
        "E2E-LATER", "E2E-NO",
    ]  # fmt: skip
    fix = x["cases"]["E2E-FIX"]  # each case's history, once
    assert [h["event_type"] for h in fix] == ["DecisionRecorded", "DecisionCorrected"]
    assert fix[1]["changes"] == ["outcome not_upheld -> upheld"]
    assert all(isinstance(h["offset"], int) and h["event_id"] for h in fix)

    # Left out, with why.
    why = {o["case_reference"]: o["reason"] for o in stats["investigations"]["left_out"]}
    assert why["E2E-GONE"] == "withdrawn" and why["E2E-MOVED"] == "outside the year"
    assert why["E2E-ADV"] == "not an investigation" and why["E2E-NEW"] == "decided after the cut"
    assert why["E2E-GHOST"] == "refused as a conflict"
    assert why["E2E-BAD"] == "dead-lettered"
    bad_why = next(
        o for o in stats["investigations"]["left_out"] if o["case_reference"] == "E2E-BAD"
    )
    assert "invalid_data" in bad_why["why"] and bad_why["refused"]["status"] == "open"
    parked = by_stat(cli_json(stack, "explain", "ZZZ", "2019-20"))["upheld"]["left_out"]
    assert [(o["case_reference"], o["reason"]) for o in parked] == [("E2E-STRAY", "parked")]

    # Live beside the letter, and the late events with what they changed.
    assert stats["upheld"]["live"] == letter["upheld"] + 2
    assert stats["not_upheld"]["live"] == letter["not_upheld"] - 2
    changed = {e["case_reference"]: (e["changes"], e["effect"]) for e in x["late_events"]}
    assert changed == {
        "E2E-NO": (["outcome not_upheld -> upheld"], {"upheld": 1, "not_upheld": -1}),
        "E2E-LATER": (["decision withdrawn"], {"investigations": -1, "not_upheld": -1}),
        "E2E-NEW": (
            ["decision recorded: upheld, decided on 2019-09-02 (2019-20)"],
            {"investigations": 1, "upheld": 1},
        ),
    }
    text = cli(stack, "explain", "MAN", "2019-20", "upheld")
    assert text.returncode == 0 and "E2E-FIX" in text.stdout and "late events" in text.stdout
    case = cli_json(stack, "explain", "E2E-MOVED")
    assert [h["financial_year"] for h in case["history"]] == ["2019-20", "2020-21"]
    ghost = cli_json(stack, "explain", "E2E-GHOST")
    assert ghost["history"] == [] and ghost["refused"][0]["reason"] == "conflict"

    # The three moments differ (a wrong cut cannot pass by accident); as of each, the
    # figures are what the live read models showed then, and a replay cut there agrees.
    moments = [open_year, closed_year, after_late]
    assert len({json.dumps(m.explain, sort_keys=True) for m in moments}) == 3
    assert after_late.explain == x
    assert_as_of_is_what_was_seen(stack, moments)
    # Before the year's close was read, the letter's figure is not there yet.
    assert all(s["letter"] is None for s in open_year.explain["statistics"])
    case_then = cli_json(stack, "explain", "E2E-NO", "--as-of", closed_year.moment.isoformat())
    assert [h["outcome"] for h in case_then["history"]] == ["not_upheld"]
    text_then = cli(stack, "explain", "MAN", "2019-20", "--as-of", open_year.moment.isoformat())
    assert text_then.returncode == 0, text_then.stderr
    assert (
        "the year was not closed then" in text_then.stdout and "late events" not in text_then.stdout
    )
    # As a role that may not create a read-model version: refused, with the way out.
    operator = cli(
        stack, "explain", "MAN", "2019-20", "--as-of", closed_year.moment.isoformat(),
        env=service_env(stack.settings, "operator"),
    )  # fmt: skip
    assert operator.returncode == 2, operator.stderr
    assert "AR_PRINCIPAL=projector" in operator.stderr and "Traceback" not in operator.stderr

    # Rebuilt from the log: identical tables (case_events among them), the same explanation,
    # and the same as of each moment.
    report = cli_json(stack, "replay")
    assert report["identical"] is True, json.dumps(report)[:2000]
    assert cli_json(stack, "explain", "MAN", "2019-20") == x
    assert_as_of_is_what_was_seen(stack, moments, commands=("explain",))
    assert took < 10  # a CLI process with its imports; the query itself: docs/benchmarks.md
