"""Every letter year, as the Ombudsman's office and the operators live it, through the command:
narratives registered with `letters narrative set`, proofs, closes of a year of each format
(2019-20, 2022-23, 2023-24, 2024-25), a close refused for want of a narrative (2025-26) and
then made, and a letter that cannot be rendered failed with its reason and retried once fixed.
Real Kafka, PostgreSQL, SMTP; the letters are read back from the outbox and the mailbox.
"""

from __future__ import annotations

import asyncio
import json
import mailbox
import socket
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from contracts.envelope import new_event
from contracts.events import ComplianceOutcomeRecorded, DecisionOutcome, DecisionRecorded
from contracts.financial_year import FinancialYear
from contracts.values import CopyRecipient
from services.letters.smtp_server import start as start_smtp
from tests.e2e.test_operator_flow import cli
from tests.support.casework import council
from tests.support.stack import Stack

NOW = datetime.now(UTC)
KING = ["--signatory-name", "Michael King", "--signatory-title", "Ombudsman"]
# Letter dates of the real letters (docs/domain.md §9); 2026's is the project's choice.
LETTER_DATES = {
    2019: ("2020-07-22", "2020-07-29"),
    2021: ("2022-07-20", "2022-07-27"),
    2022: ("2023-07-19", "2023-07-26"),
    2023: ("2024-07-17", "2024-07-24"),
    2024: ("2025-05-21", "2025-05-28"),
    2025: ("2026-05-20", "2026-05-27"),
}


def narrative(letter_year: int) -> str:
    return (
        f"This is the {letter_year} narrative, written for {{council_name}} by the office.\n\n"
        "# Complaint statistics\n\n"
        "The figures will be published on "
        "[Your council's performance](https://www.lgo.org.uk/your-councils-performance) "
        "on {publication_date}.\n"
    )


def casework(code: str, start_year: int) -> list[Any]:
    """Per year: 5 upheld (1 with a remedy), 3 not upheld, 2 advice, 4 closed after initial
    enquiries, 1 invalid, 1 referred back; 2 compliance outcomes, 1 implemented."""
    day = date(start_year, 4, 20)
    outcomes = (
        ["upheld"] * 5 + ["not_upheld"] * 3 + ["advice_given"] * 2
        + ["closed_after_initial_enquiries"] * 4 + ["incomplete_or_invalid"]
        + ["referred_back_for_local_resolution"]
    )  # fmt: skip
    events: list[Any] = [
        new_event(
            DecisionRecorded(
                case_reference=f"{start_year % 100} {code} {i:03}",
                decision_date=day,
                outcome=DecisionOutcome(outcome),
                satisfactory_remedy=i == 0,
            ),
            council=code,
            producer="tests",
            occurred_at=NOW,
        )
        for i, outcome in enumerate(outcomes)
    ]
    events += [
        new_event(
            ComplianceOutcomeRecorded(
                case_reference=f"{start_year % 100} {code} C{i}",
                recorded_on=day,
                implemented=i == 0,
            ),
            council=code,
            producer="tests",
            occurred_at=NOW,
        )
        for i in range(2)
    ]
    return events


async def letters_when(
    stack: Stack, year: FinancialYear, done: Callable[[list[Any]], bool], timeout: float = 180
) -> list[Any]:
    """The year's letters (latest version per council), once ``done`` says so."""
    deadline = time.monotonic() + timeout
    while True:
        rows = await stack.fetch(
            "SELECT DISTINCT ON (council) council, state, version, text_body, html_body, "
            "last_error, context FROM letters.outbox WHERE financial_year = $1 "
            "ORDER BY council, version DESC",
            year.start_year,
        )
        if rows and done(list(rows)):
            return list(rows)
        if time.monotonic() > deadline:
            raise TimeoutError(f"{year} letters: {[(r['council'], r['state']) for r in rows]}")
        await asyncio.sleep(0.5)


async def sent(stack: Stack, year: FinancialYear, count: int) -> list[Any]:
    return await letters_when(
        stack, year, lambda rows: sum(r["state"] == "sent" for r in rows) >= count
    )


def close(stack: Stack, year: FinancialYear, *extra: str) -> Any:
    letter_date, published = LETTER_DATES[year.start_year]
    return cli(
        stack, "close-year", year.label, "--letter-date", letter_date,
        "--publication-date", published, *KING, *extra,
    )  # fmt: skip


async def test_every_letter_year_is_closed_with_its_format_and_the_offices_own_words(
    stack: Stack, tmp_path: Path
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    smtp, _ = start_smtp(tmp_path / "mail", port=port)
    stack.env.update({"AR_SMTP_PORT": str(port), "AR_LETTERS_RENDER_WORKERS": "1"})
    try:
        stack.start("services.projector")
        stack.start("services.letters")
        # Two district councils (250,000 residents each): FMA with the casework, FMB none.
        copies = (
            CopyRecipient(
                name="Cllr Leader", role="Leader of the Council", email="leader@fma.example"
            ),
            CopyRecipient(
                name="Cllr Chair", role="Chair of Scrutiny", email="scrutiny@fma.example"
            ),
        )
        events = [council("FMA", "District", population=250_000, copy_to=copies),
                  council("FMB", "District", population=250_000)]  # fmt: skip
        for start_year in LETTER_DATES:
            events += casework("FMA", start_year)
        await stack.publish(events)
        await stack.wait_caught_up()

        # The office writes, checks, proofs and registers each year's narrative (2020 ships).
        for letter_year in (2023, 2024, 2025):
            doc = tmp_path / f"narrative-{letter_year}.md"
            doc.write_text(narrative(letter_year))
            checked = cli(stack, "letters", "narrative", "check", str(doc))
            assert checked.returncode == 0, checked.stderr
            done = cli(stack, "letters", "narrative", "set", str(letter_year), str(doc))
            assert done.returncode == 0, done.stderr
            assert f"the {letter_year} narrative as version 1" in done.stdout
        listed = json.loads(cli(stack, "letters", "narrative", "list", "--json").stdout)
        assert {(v["letter_year"], v["version"]) for v in listed["versions"]} == {
            (2020, 0), (2023, 1), (2024, 1), (2025, 1),
        }  # fmt: skip

        proofs = tmp_path / "proofs"
        proofed = cli(stack, "letters", "proof", "2024-25", "--council", "FMA", "--out",
                      str(proofs))  # fmt: skip
        assert proofed.returncode == 0, proofed.stderr
        assert (proofs / "FMA" / "letter.txt").read_text().startswith("PROOF - NOT SENT")
        assert list((proofs / "FMA").glob("page-*.png"))
        assert await stack.fetch("SELECT 1 FROM letters.outbox") == []  # nothing saved

        expected = {
            2019: [
                "63% of complaints we investigated were upheld.",
                "Statistics are based on a total of 8 detailed investigations",
                "In 50% of cases we were satisfied the authority had successfully implemented",
                "In 20% of upheld cases we found the authority had provided a satisfactory",
            ],
            2022: [
                "This is the 2023 narrative, written for FMA Council by the office.",
                "Adjusted for FMA Council's population, this is 2 upheld decisions per 100,000 "
                "residents.",
                # FMB upheld none: the group's mean of rates is (2 + 0) / 2.
                "The average for authorities of this type is 1 upheld decision per 100,000 "
                "residents.",
                "Statistics are based on a total of 8 detailed investigations",
                "Statistics are based on a total of 5 upheld decisions",
            ],
            2023: [
                "This is the 2024 narrative",
                "Statistics are based on a total of 8 investigations for the period between "
                "1 April 2023 to 31 March 2024",
            ],
            2024: [
                "This is the 2025 narrative",
                "Between 1 April 2024 to 31 March 2025, we dealt with 16 complaints. Of these, 4 "
                "were not for us or not ready for us to investigate. We assessed and closed 4 "
                "complaints. We investigated 8 complaints.",
                "We investigated 8 complaints and upheld 5.",
                "63% of complaints we investigated were upheld.",
                "Adjusted for FMA Council's population, this is 2 upheld decisions per 100,000",
            ],
        }
        for start_year, sentences in expected.items():
            year = FinancialYear(start_year)
            closed = close(stack, year)
            assert closed.returncode == 0, closed.stderr
            rows = await sent(stack, year, 2)
            fma = next(r for r in rows if r["council"] == "FMA")
            for sentence in sentences:
                assert sentence in fma["text_body"], (start_year, sentence)
            assert "<svg" not in fma["html_body"]
            reference = f"FMA/{year.label}/annual-review/v1"
            mail = [m for m in mailbox.Maildir(tmp_path / "mail").values()
                    if m["X-Annual-Review-Letter"] == reference]  # fmt: skip
            # The copies go in a message of their own, without the case list.
            (to_copies,) = [m for m in mail if ".copies@" in str(m["Message-ID"])]
            (to_ce,) = [m for m in mail if m is not to_copies]
            assert to_copies["To"] == "leader@fma.example, scrutiny@fma.example"
            assert to_ce["Cc"] is None and "case-list" in to_ce.as_string()
            assert "case-list" not in to_copies.as_string()
            pinned = json.loads(fma["context"])["narrative"]
            assert pinned["version"] == (0 if start_year == 2019 else 1)
            assert pinned["format"] == {2019: "2020", 2022: "2021", 2023: "2021"}.get(
                start_year, "2025"
            )

        # 2025-26 without a narrative: refused before anything is published, with the fix.
        year = FinancialYear(2025)
        refused = close(stack, year)
        assert refused.returncode == 1
        assert "annual-review letters narrative set 2026 FILE" in refused.stderr
        assert (
            await stack.fetch("SELECT 1 FROM readmodel.year_closes WHERE financial_year = 2025")
            == []
        )
        doc = tmp_path / "narrative-2026.md"
        doc.write_text(narrative(2026))
        assert cli(stack, "letters", "narrative", "set", "2025-26", str(doc)).returncode == 0
        assert close(stack, year).returncode == 0  # sees the narrative registered just now
        rows = await sent(stack, year, 2)
        assert "This is the 2026 narrative" in rows[0]["text_body"]

        # A close published without a narrative for its year (another tool, or an old
        # close): each letter fails with the reason, no retry loop; fixed, a resend renders it.
        year = FinancialYear(2021)
        async with stack.publisher() as p:
            letter_date, published = LETTER_DATES[2021]
            await p.close_year(
                {"financial_year": year.label, "letter_date": letter_date,
                 "publication_date": published,
                 "signatory": {"name": "Michael King", "titles": ["Ombudsman"]}},
                producer="tests",
            )  # fmt: skip
        rows = await letters_when(stack, year, lambda rs: all(r["state"] == "failed" for r in rs))
        assert "has no narrative: register the 2022 narrative" in rows[0]["last_error"]
        listed_failed = cli(stack, "letters", "list", "--state", "failed")
        assert "no narrative" in listed_failed.stdout
        status = json.loads(cli(stack, "status", "--json").stdout)
        assert {f["council"] for f in status["letters"]["failed"]} >= {"FMA", "FMB"}
        doc = tmp_path / "narrative-2022.md"
        doc.write_text(narrative(2022))
        assert cli(stack, "letters", "narrative", "set", "2022", str(doc)).returncode == 0
        for code in ("FMA", "FMB"):
            again = cli(stack, "letters", "resend", code, year.label, "--note", "narrative set")
            assert again.returncode == 0, again.stderr
        rows = await sent(stack, year, 2)
        assert "This is the 2022 narrative" in rows[0]["text_body"]
    finally:
        smtp.stop()
