"""The council's case list end to end: a year with corrections, withdrawals, a refused and a
parked decision and late events; the letters sent. The case list is attached to the chief
executive's e-mail (Cc the link officer) only, never to the copies; its sha256 is the one
recorded with the letter, its summary's totals are the letter's figures, and two
independent readers (openpyxl, and Rust's calamine) read it, a formula-looking council
name as text."""

from __future__ import annotations

import csv
import hashlib
import io
import mailbox
import socket
from datetime import date
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from python_calamine import CalamineWorkbook

from contracts import new_event
from contracts.events import DecisionOutcome, DecisionRecorded, ServiceArea
from services.letters.smtp_server import start as start_smtp
from tests.e2e.test_explain import write
from tests.e2e.test_operator_flow import cli, cli_json
from tests.support.casework import PUBLISHED, complied, corrected, decided, withdrawn
from tests.support.polling import eventually
from tests.support.stack import Stack

D = date(2019, 9, 2)
NEXT_YEAR = date(2020, 5, 4)
EVIL_NAME = '=HYPERLINK("http://evil.example","Mansfield")'
LEADER = "leader@mansfield.gov.uk"
CE = "chief.executive@mansfield.gov.uk"
LINK = "link.officer@mansfield.gov.uk"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def register_file(sample: Path) -> Path:
    """The sample register, Mansfield renamed to a formula and copied to its leader."""
    rows = list(csv.DictReader(sample.open(newline="")))
    extra = [f"copy_to_{n}_{part}" for n in (1, 2) for part in ("name", "role", "email")]
    for r in rows:
        r.update(dict.fromkeys(extra, ""))
        if r["code"] == "MAN":
            r.update(name=EVIL_NAME, copy_to_1_name="A Leader", copy_to_1_role="Leader",
                     copy_to_1_email=LEADER, copy_to_2_name="A Link",
                     copy_to_2_role="Complaints link officer", copy_to_2_email=LINK)  # fmt: skip
    out = sample.with_name("register.csv")
    with out.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=[*rows[0].keys()])
        w.writeheader()
        w.writerows(rows)
    return out


def housing(case: str) -> Any:
    return new_event(
        DecisionRecorded(case_reference=case, decision_date=D, outcome=DecisionOutcome.UPHELD,
                         service_area=ServiceArea.HOUSING),
        council="MAN", producer="tests", occurred_at=PUBLISHED,
    )  # fmt: skip


def attachments(m: EmailMessage) -> dict[str, tuple[str, bytes]]:
    """File name -> (media type, the bytes as sent: the transfer encoding undone only)."""
    out = {}
    for part in m.iter_attachments():
        raw = part.get_payload(decode=True)
        assert isinstance(raw, bytes)
        out[str(part.get_filename())] = (part.get_content_type(), raw)
    return out


async def test_the_case_list_goes_with_the_chief_executives_letter_and_adds_up_to_it(
    stack: Stack, tmp_path: Path
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    smtp, mail = start_smtp(tmp_path / "mail", port=port)
    stack.env.update({"AR_SMTP_PORT": str(port), "AR_LETTERS_RENDER_WORKERS": "1",
                      "AR_LETTERS_RECONCILE_MAILDIR": str(tmp_path / "mail")})  # fmt: skip
    try:
        stack.start("services.projector")
        stack.start("services.letters")
        sample = tmp_path / "councils.csv"
        assert cli(stack, "councils", "sample", "--out", str(sample)).returncode == 0
        councils = cli_json(stack, "councils", "import", str(register_file(sample)))["councils"]

        before_close = [
            housing("CL-UP"),
            decided("MAN", "CL-NO", D, "not_upheld"),
            decided("MAN", "CL-FIX", D, "not_upheld"),
            corrected("MAN", "CL-FIX", D, "upheld"),
            decided("MAN", "CL-GONE", D, "upheld"),
            withdrawn("MAN", "CL-GONE", D),
            decided("MAN", "CL-ADV", D, "advice_given"),
            decided("MAN", "CL-MOVED", D, "upheld"),
            corrected("MAN", "CL-MOVED", NEXT_YEAR, "upheld"),
            decided("MAN", "CL-LATER", D, "not_upheld"),
            corrected("MAN", "CL-GHOST", D, "upheld"),  # no decision to correct: refused
            complied("MAN", "CL-UP", D, implemented=True),
            decided("ZZZ", "CL-STRAY", D, "upheld"),  # nobody registered ZZZ: parked
        ]
        assert cli(stack, "publish", str(write(tmp_path / "a.jsonl", before_close))).returncode == 0
        await stack.wait_caught_up()
        closed = cli(
            stack, "close-year", "2019-20", "--letter-date", "2020-07-22",
            "--publication-date", "2020-07-29", "--signatory-name", "Michael King",
            "--signatory-title", "Local Government and Social Care Ombudsman",
        )  # fmt: skip
        assert closed.returncode == 0, closed.stderr

        def snapshot() -> dict[str, int] | None:
            return cli_json(stack, "stats", "MAN", "2019-20")["snapshot"]  # type: ignore[no-any-return]

        letter = await eventually(snapshot, what="the year's snapshot", timeout=120, not_yet=())
        late = [
            corrected("MAN", "CL-NO", D, "upheld"),
            withdrawn("MAN", "CL-LATER", D),
            decided("MAN", "CL-NEW", D, "upheld"),
        ]
        assert cli(stack, "publish", str(write(tmp_path / "b.jsonl", late))).returncode == 0
        await stack.wait_caught_up()

        # Mansfield's letter is held for its refused event; the operator releases it.
        def man_state() -> str | None:
            rows = cli_json(stack, "letters", "list", "--year", "2019-20")
            state = next(r["state"] for r in rows if r["council"] == "MAN")
            return str(state) if state in ("held", "sent") else None

        if await eventually(man_state, what="Mansfield's letter queued", timeout=120) == "held":
            released = cli(stack, "letters", "release", "MAN", "2019-20", "--note", "checked")
            assert released.returncode == 0, released.stderr

        def all_sent() -> list[Any] | None:
            rows = cli_json(stack, "letters", "list", "--year", "2019-20")
            return rows if [r["state"] for r in rows] == ["sent"] * councils else None

        all_sent_rows = await eventually(all_sent, what="every letter sent", timeout=300)
        # One message per council to its chief executive, and Mansfield's copies' message.
        assert mail.accepted == councils + 1

        box = [m for m in mailbox.Maildir(tmp_path / "mail", create=False)]
        parsed = [message_from_bytes(m.as_bytes(), policy=default) for m in box]
        man = [m for m in parsed if "MAN/2019-20" in str(m["X-Annual-Review-Letter"])]
        to_ce = next(m for m in man if CE in str(m["X-Envelope-To"]))
        to_copies = next(m for m in man if LEADER in str(m["X-Envelope-To"]))
        assert LEADER not in str(to_ce["X-Envelope-To"])
        assert CE not in str(to_copies["X-Envelope-To"])
        # The link officer is on the chief executive's message (Cc), not on the copies'.
        assert LINK in str(to_ce["X-Envelope-To"]) and LINK in str(to_ce["Cc"])
        assert LINK not in str(to_copies["X-Envelope-To"])
        files = attachments(to_ce)
        stem = "case-list-2019-20-MAN-v1"
        assert files[f"{stem}.xlsx"][0] == XLSX and files[f"{stem}.csv"][0] == "text/csv"
        assert [n for n in attachments(to_copies) if n.startswith("case-list")] == []
        assert any(n.endswith(".pdf") for n in attachments(to_copies))  # the letter itself
        # Every other council's chief executive has its own case list.
        for m in parsed:
            if m is not to_copies:
                assert any(n.endswith(".xlsx") for n in attachments(m)), m["To"]

        # Its sha256 is the one recorded with the letter, and the operator's copy is it.
        xlsx = files[f"{stem}.xlsx"][1]
        shown = cli(stack, "letters", "show", "MAN", "2019-20")
        assert shown.returncode == 0
        assert f"case list (xlsx) sha256 {hashlib.sha256(xlsx).hexdigest()}" in shown.stderr
        csv_sha = hashlib.sha256(files[f"{stem}.csv"][1]).hexdigest()
        assert f"case list (csv) sha256 {csv_sha}" in shown.stderr
        out = tmp_path / "operator.xlsx"
        written = cli(stack, "letters", "case-list", "MAN", "2019-20", "-o", str(out))
        assert written.returncode == 0, written.stderr
        assert out.read_bytes() == xlsx and "as attached to the letter" in written.stdout

        # openpyxl: the totals are the letter's figures; no cell is a formula.
        wb = load_workbook(io.BytesIO(xlsx))
        summary = {r[3]: (r[1], r[2]) for r in wb["Summary"].iter_rows(values_only=True)
                   if r[3] and r[0] != "Statistic"}  # fmt: skip
        assert summary["Upheld"] == (letter["upheld"],) * 2 == (2, 2)
        assert summary["Not upheld"] == (letter["not_upheld"],) * 2 == (2, 2)
        assert summary["Detailed investigations"] == (4, 4)
        assert summary["Compliance outcomes"] == (letter["compliance_outcomes"],) * 2
        assert wb["Summary"]["B1"].value == f"{EVIL_NAME} (MAN)"
        assert wb["Summary"]["B1"].data_type == "s"
        upheld = list(wb["Upheld"].iter_rows(values_only=True))[1:]
        assert sorted((r[0], r[4]) for r in upheld) == [("CL-FIX", "Not recorded"),
                                                        ("CL-UP", "Housing")]  # fmt: skip
        left = {(r[0], r[2]) for r in list(wb["Left out"].iter_rows(values_only=True))[1:]}
        assert {("CL-GONE", "withdrawn"), ("CL-MOVED", "outside the year"),
                ("CL-NEW", "decided after the cut"),
                ("CL-GHOST", "refused as a conflict")} <= left  # fmt: skip

        # calamine (an independent reader) reads the same, the name as text.
        cal = CalamineWorkbook.from_filelike(io.BytesIO(xlsx))
        assert cal.get_sheet_by_name("Summary").to_python()[0][1] == f"{EVIL_NAME} (MAN)"
        cal_upheld = cal.get_sheet_by_name("Upheld").to_python()[1:]
        assert sorted(r[0] for r in cal_upheld) == ["CL-FIX", "CL-UP"]

        # The CSV: the name quoted so that no spreadsheet takes it for a formula.
        rows = list(csv.reader(io.StringIO(files[f"{stem}.csv"][1].decode("utf-8-sig"))))
        assert ["Summary", "Council", f"'{EVIL_NAME} (MAN)"] == rows[1][:3]

        # The parked council's case never reaches a letter: ZZZ is not registered.
        assert not [m for m in parsed if "ZZZ" in str(m["X-Annual-Review-Letter"])]

        # Made again from the read model (late events and all), the same bytes: the stored
        # copy set aside, `letters case-list` makes it as a render would.
        rows = await stack.fetch(
            "UPDATE letters.outbox SET case_list_xlsx = NULL, case_list_csv = NULL "
            "WHERE council = 'MAN' RETURNING id"
        )
        assert len(rows) == 1
        again = tmp_path / "again.xlsx"
        remade = cli(stack, "letters", "case-list", "MAN", "2019-20", "-o", str(again))
        assert remade.returncode == 0 and "made now" in remade.stdout
        assert again.read_bytes() == xlsx

        # A re-issue is made from the live figures: its case list adds up to them.
        reissued = cli(stack, "letters", "reissue", "MAN", "2019-20", "--reason", "late events")
        assert reissued.returncode == 0, reissued.stderr
        await eventually(lambda: mail.accepted == councils + 3, what="the re-issue sent",
                         timeout=180, every=0.5, not_yet=())  # fmt: skip
        live = cli_json(stack, "stats", "MAN", "2019-20")["counts"]
        v2 = tmp_path / "v2.xlsx"
        assert cli(stack, "letters", "case-list", "MAN", "2019-20", "-o", str(v2)).returncode == 0
        wb2 = load_workbook(v2)
        totals = {r[3]: r[1] for r in wb2["Summary"].iter_rows(values_only=True)
                  if r[3] and r[0] != "Statistic"}  # fmt: skip
        assert totals["Upheld"] == live["upheld"] == 4  # CL-FIX, CL-UP, CL-NO, CL-NEW
        assert totals["Not upheld"] == live["not_upheld"] == 0
        assert wb2["Summary"]["B4"].value == "the live figures the letter was made from"

        # A letter whose case list cannot add up to it (its figures altered behind the
        # service's back) is refused, never sent: failed, with the reason, for an operator.
        other = next(r["council"] for r in all_sent_rows if r["council"] != "MAN")
        await stack.fetch(
            "UPDATE letters.outbox SET state = 'pending', text_body = NULL, "
            "context = jsonb_set(context, '{counts,upheld}', '99') WHERE council = $1",
            other,
        )

        def refused() -> dict[str, Any] | None:
            rows = cli_json(stack, "letters", "list", "--state", "failed")
            return next((r for r in rows if r["council"] == other), None)

        failed = await eventually(refused, what="the altered letter refused", timeout=180)
        assert "case list" in failed["last_error"] and "the letter says 99" in failed["last_error"]
        assert mail.accepted == councils + 3  # nothing more was sent
    finally:
        smtp.stop()
