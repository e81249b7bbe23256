"""The demo's steps, each on its own and without servers: which councils, which events, how
the wait for the letters ends, what the summary says, and how progress reads in a log."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
import structlog
import typer
from rich.console import Console

from services.cli.demo.command import logs_for_a_person
from services.cli.demo.letters import LettersNotSent, Sent, wait_for_letters
from services.cli.demo.site import Site
from services.cli.demo.stage import Stage, namespace_name
from services.cli.demo.summary import Summary, print_summary
from services.cli.demo.year import REGISTRATION, choose_councils, simulate
from services.cli.progress import PlainProgress, progress
from services.councils.sample import MANSFIELD_CODE
from services.platform.settings import Settings

MYSOCIETY = (
    "local-authority-code,official-name,nice-name,gss-code,start-date,end-date,replaced-by,"
    "nation,region,local-authority-type,local-authority-type-name,gov-uk-slug,pop-2020\n"
    "MAS,Mansfield District Council,Mansfield,E07000174,,,,England,East Midlands,NMD,"
    "Non-metropolitan district,mansfield,109351.0\n"
    "KEN,Kent County Council,Kent,E10000016,,,,England,South East,CTY,County,kent,1589057.0\n"
)


def stage(tmp_path: Path, *processes: Any) -> Stage:
    return Stage("demo_test", Settings(), tmp_path, tmp_path / "mail", {}, list(processes))


def plain() -> tuple[PlainProgress, io.StringIO]:
    text = io.StringIO()
    return PlainProgress(Console(file=text, width=200), every_s=0), text


# --- the register ----------------------------------------------------------------------------


def test_without_a_register_the_demo_uses_the_sample(tmp_path: Path) -> None:
    for register in (None, tmp_path / "absent.csv"):
        councils = choose_councils(register)
        assert len(councils.chosen) == 12 and councils.source == "the built-in sample"
        assert councils.mansfield is not None and councils.mansfield.code == MANSFIELD_CODE


def test_a_register_gives_its_councils_and_mansfield_its_real_chief_executive(
    tmp_path: Path,
) -> None:
    register = tmp_path / "uk_local_authorities.csv"
    register.write_text(MYSOCIETY)
    councils = choose_councils(register)
    assert [c.code for c in councils.chosen] == ["MAS", "KEN"]
    assert str(register) in councils.source
    mansfield = councils.mansfield
    assert mansfield is not None and mansfield.details.chief_executive is not None
    # The register names no one (a placeholder); the letter goes to the real addressee.
    assert mansfield.details.chief_executive.name != "Chief Executive"
    kent = councils.chosen[1].details.chief_executive
    assert kent is not None and kent.name == "Chief Executive"


# --- the casework ----------------------------------------------------------------------------


def test_the_simulated_year_is_the_register_then_valid_casework() -> None:
    councils = choose_councils(None).chosen
    year = simulate(councils, 300, seed=7)
    assert [e.type for e in year.registrations] == [REGISTRATION] * len(councils)
    assert year.casework and all(e.type != REGISTRATION for e in year.casework)
    assert year.events == len(councils) + len(year.casework)
    again = simulate(councils, 300, seed=7)
    assert [e.event_id for e in again.casework] == [e.event_id for e in year.casework]


# --- waiting for the letters -------------------------------------------------------------------


def counts(*answers: Sent | None) -> Any:
    queue = list(answers)

    async def count() -> Sent | None:
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return count


def test_the_wait_ends_when_every_letter_of_the_snapshot_is_sent(tmp_path: Path) -> None:
    tracker, text = plain()
    answers = counts(None, Sent(0, 0), Sent(3, 12), Sent(9, 12), Sent(12, 12))
    sent = asyncio.run(wait_for_letters(answers, stage(tmp_path), 60, tracker, poll_s=0))
    assert sent == 12
    lines = text.getvalue().splitlines()
    assert lines[0] == "waiting for the year's snapshot ..."
    assert lines[-1] == "letters sent: 12 of 12 (100%)"
    assert "letters sent: 3 of 12 (25%)" in lines and len(lines) <= 6


def test_the_wait_ends_when_a_service_stops(tmp_path: Path) -> None:
    stopped = cast(asyncio.subprocess.Process, SimpleNamespace(returncode=1))
    tracker, _ = plain()
    with pytest.raises(LettersNotSent, match="a service stopped"):
        asyncio.run(
            wait_for_letters(counts(Sent(0, 12)), stage(tmp_path, stopped), 60, tracker, poll_s=0)
        )


def test_the_wait_ends_at_the_timeout(tmp_path: Path) -> None:
    tracker, _ = plain()
    with pytest.raises(TimeoutError, match="within 0 s"):
        asyncio.run(wait_for_letters(counts(Sent(5, 12)), stage(tmp_path), 0, tracker, poll_s=0))


# --- the summary ---------------------------------------------------------------------------------


def summary(site: Site | None) -> Summary:
    return Summary(
        namespace="demo_x", kept=True, councils=12, source="the built-in sample", events=1512,
        letters_sent=12, letters=12, emails_in_maildir=12, files=36, mansfield=None,
        mansfield_code=None, seconds=42.0, site=site,
    )  # fmt: skip


def test_the_summary_says_what_was_done(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    print_summary(summary(Site("http://127.0.0.1:1", "http://127.0.0.1:1/councils/MAS", [])),
                  tmp_path)  # fmt: skip
    shown = " ".join(capsys.readouterr().out.split())
    assert "letters sent: 12 of 12; emails accepted by the SMTP server: 12" in shown
    assert "web: fetched http://127.0.0.1:1/councils/MAS" in shown
    assert "kept: database and topic prefix 'demo_x'" in shown


def test_a_page_without_its_figures_fails_the_demo(tmp_path: Path) -> None:
    with pytest.raises(typer.Exit) as ended:
        print_summary(summary(Site("u", "u/councils/MAS", ["50% upheld"])), tmp_path)
    assert ended.value.exit_code == 4


def test_the_summary_counts_this_runs_emails_only(tmp_path: Path) -> None:
    (tmp_path / "mail" / "new").mkdir(parents=True)
    (tmp_path / "mail" / "new" / "earlier-run").write_text("x")
    this_run = stage(tmp_path)
    this_run.emails_before = 1
    for n in range(12):
        (tmp_path / "mail" / "new" / f"letter-{n}").write_text("x")
    assert this_run.emails() == 12


def test_a_namespace_is_named_by_its_time() -> None:
    name = namespace_name()
    assert name.startswith("demo_") and len(name) == len("demo_20200722_120000")


# --- progress in a log -----------------------------------------------------------------------


def test_progress_in_a_log_is_a_few_lines() -> None:
    tracker, text = plain()
    with tracker:
        task = tracker.add_task("publishing", total=344)
        for _ in range(43):
            tracker.advance(task, 8)
    lines = text.getvalue().splitlines()
    assert lines == [
        "publishing: 0 of 344 (0%)",
        "publishing: 88 of 344 (26%)",
        "publishing: 176 of 344 (51%)",
        "publishing: 264 of 344 (77%)",
        "publishing: 344 of 344 (100%)",
    ]


def test_progress_without_a_total_says_it_is_done() -> None:
    tracker, text = plain()
    with tracker:
        task = tracker.add_task("replaying the log", total=None)
        tracker.update(task, completed=1500, description="replaying: 700 events/s")
    lines = text.getvalue().splitlines()
    assert lines[0] == "replaying the log ..."
    assert lines[-1] == "replaying: 700 events/s: 1,500 (done)"


def test_no_bar_when_no_one_watches_a_terminal() -> None:
    # Under pytest stdout is captured: not a terminal, so plain lines, not Rich's bar.
    assert isinstance(progress(), PlainProgress)
    assert not isinstance(progress(disable=True), PlainProgress)


def test_the_demo_logs_only_what_it_does_not_say_itself() -> None:
    import logging

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        logs_for_a_person(Settings(log_level="INFO"))
        assert root.level == logging.WARNING
        logs_for_a_person(Settings(log_level="DEBUG"))
        assert root.level == logging.DEBUG
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        structlog.reset_defaults()
