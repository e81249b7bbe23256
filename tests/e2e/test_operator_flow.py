"""A year as an operator lives it, through the installed command only.

Register councils, simulate and publish a year (with bad input), look at the figures,
deal with the dead letters, close the year, see the letters go, re-issue one, replay
history — every step a subprocess of `annual-review`, against real services.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from services.letters.smtp_server import start as start_smtp
from tests.support.polling import eventually
from tests.support.stack import REPO, Stack

SCRIPT = Path(sys.executable).with_name("annual-review")
CLI = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "services.cli.main"]


def cli(
    stack: Stack, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        cwd=REPO,
        env={**os.environ, **stack.env, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
    )


def cli_json(stack: Stack, *args: str) -> Any:
    done = cli(stack, *args, "--json")
    assert done.returncode == 0, done.stderr + done.stdout
    return json.loads(done.stdout)


async def test_an_operator_runs_a_year_from_registration_to_letters_and_a_replay(
    stack: Stack, tmp_path: Path
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    smtp, mail = start_smtp(tmp_path / "mail", port=port)
    stack.env.update(
        {
            "AR_SMTP_PORT": str(port),
            "AR_LETTERS_RENDER_WORKERS": "1",
            "AR_LETTERS_RECONCILE_MAILDIR": str(tmp_path / "mail"),
        }
    )
    try:
        stack.start("services.projector")
        stack.start("services.letters")

        # Councils: the built-in sample, Mansfield among them.
        sample = tmp_path / "councils.csv"
        assert cli(stack, "councils", "sample", "--out", str(sample)).returncode == 0
        imported = cli_json(stack, "councils", "import", str(sample))
        assert imported["councils"] >= 10

        # A simulated 2019-20 with Mansfield's real figures, and 2% bad input: refused whole.
        year = tmp_path / "2019-20.jsonl"
        made = cli(
            stack,
            "simulate",
            "--year",
            "2019-20",
            "--events",
            "3000",
            "--seed",
            "4",
            "--invalid-share",
            "0.02",
            "--no-include-registrations",
            "--out",
            str(year),
        )
        assert made.returncode == 0, made.stderr
        refused = cli(stack, "publish", str(year))
        assert refused.returncode == 1 and "nothing was published" in refused.stderr
        # The operator strips the bad lines (the report names them) and adds one decision
        # for a council nobody registered: valid alone, parked by the projector.
        good = [line for line in year.read_text().splitlines() if cli_free_validate(line)]
        stray = json.loads(good[0])
        stray["council"] = "ZZZ"
        stray["event_id"] = "00000000-0000-4000-8000-00000000abcd"
        if "case_reference" in stray["data"]:
            stray["data"]["case_reference"] = "STRAY-1"
        clean = tmp_path / "clean.jsonl"
        clean.write_text("\n".join([*good, json.dumps(stray)]) + "\n")
        assert cli(stack, "publish", str(clean)).returncode == 0

        await stack.wait_caught_up()
        man = cli_json(stack, "stats", "MAN", "2019-20")
        assert man["counts"]["upheld"] == 1 and man["detailed_investigations"] == 2
        assert man["uphold_rate_percent"] == 50 and man["compliance_rate_percent"] == 100
        assert man["satisfactory_remedy_rate_percent"] == 0
        averages = cli_json(stack, "averages", "2019-20")
        assert {g["comparison_group"] for g in averages["groups"]} == {
            "County",
            "District",
            "Metropolitan Borough",
            "Unitary",
            "London Borough",
        }

        # The stray decision is not refused but parked until ZZZ is registered, and shown.
        assert cli_json(stack, "dlq", "list") == []
        (parked,) = cli_json(stack, "dlq", "list", "--state", "parked")
        assert (parked["council"], parked["reason"], parked["id"]) == ("ZZZ", "parked", None)
        assert parked["event_id"] == stray["event_id"]

        status = cli_json(stack, "status")
        assert status["lag_events"] == 0 and status["dead_letters"] == {}
        assert [(p["council"], p["events"]) for p in status["parked"]] == [("ZZZ", 1)]
        assert "parked: 1 event(s) of 1 council(s)" in cli(stack, "status").stdout

        # Close the year; every council gets its letter by email.
        closed = cli(
            stack,
            "close-year",
            "2019-20",
            "--letter-date",
            "2020-07-22",
            "--publication-date",
            "2020-07-29",
            "--signatory-name",
            "Michael King",
            "--signatory-title",
            "Local Government and Social Care Ombudsman",
        )
        assert closed.returncode == 0, closed.stderr
        councils = imported["councils"]

        def all_sent() -> list[dict[str, Any]] | None:
            letters = cli_json(stack, "letters", "list", "--year", "2019-20")
            return letters if [x["state"] for x in letters] == ["sent"] * councils else None

        letters = await eventually(
            all_sent, what="every letter sent", timeout=120, every=0.5, not_yet=()
        )
        assert mail.accepted == councils
        text = cli(stack, "letters", "show", "MAN", "2019-20").stdout
        assert "50% of complaints we investigated were upheld." in text
        assert "Statistics are based on a total of 1 compliance outcome" in text

        # A re-issue is a new version, sent once more.
        again = cli(stack, "letters", "reissue", "MAN", "2019-20", "--reason", "test")
        assert again.returncode == 0, again.stderr
        await eventually(
            lambda: mail.accepted == councils + 1,
            what="the re-issued letter accepted",
            timeout=120,
            every=0.5,
            not_yet=(),
        )
        assert len(letters) == councils

        exported = cli(stack, "letters", "export", str(tmp_path / "out"))
        assert exported.returncode == 0
        assert len(list((tmp_path / "out").glob("*.pdf"))) == councils + 1

        # Replay: every figure rebuilt from the log, identical, and no letter sent.
        report = cli_json(stack, "replay")
        assert report["identical"] is True and report["version"] == 2
        assert mail.accepted == councils + 1
    finally:
        smtp.stop()


def cli_free_validate(line: str) -> bool:
    from contracts.codec import RejectedMessage, decode

    try:
        decode(line.encode())
    except RejectedMessage:
        return False
    return True
