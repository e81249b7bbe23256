"""Only the office states what only the office may state: the close and the council register.

The case management system's principal ``cms`` may write the facts topic, where the
year-end close and the register travel too. Here ``cms`` forges them, with librdkafka (the
client of .NET, Go and C systems) and with aiokafka, on the real servers: a close of one
partition with ``partition_count`` 1 (the earliest close wins: it would complete the year from
that partition alone, with its own signatory and dates), one with 10,000 (a year that never
completes), a chief executive's e-mail redirected, a council moved to another comparison
group. Each must be a dead letter (``not_authorised``) and change nothing; the operator's
own close then gives the snapshot and letters of the oracle, and a replay gives the same.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

from aiokafka import AIOKafkaProducer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from contracts.codec import encode
from contracts.envelope import Envelope, new_event
from contracts.events import CouncilDetailsChanged, FinancialYearClosed
from contracts.financial_year import FinancialYear
from contracts.values import ChiefExecutive, CopyRecipient, Signatory
from services.domain.letter_inputs import LetterInputs
from services.platform.kafka.security import client_kwargs
from services.platform.office_signature import OfficeSigner
from services.platform.settings import as_principal
from services.projector.config import ProjectorSettings
from services.projector.rebuild import rebuild
from services.simulator.oracle import oracle
from tests.support.casework import complied, council, decided
from tests.support.mail import Mail, letters_env, wait_states
from tests.support.polling import eventually
from tests.support.producers import Login, headers, publish_with_librdkafka
from tests.support.stack import COUNT_KEYS, REPO, Stack

COUNCILS = {"OA01": "District", "OA02": "County", "OA03": "Unitary", "OA04": "District"}
YEAR = FinancialYear.of(date(2019, 4, 1))
SCRIPT = Path(sys.executable).with_name("annual-review")
CLI = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "services.cli.main"]
FORGER = Signatory(name="Mallory Forger", titles=("Not the Ombudsman",))


def cli(stack: Stack, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [*CLI, *args], cwd=REPO, env={**os.environ, **stack.env}, capture_output=True,
        text=True, timeout=300,
    )  # fmt: skip
    if ok:
        assert done.returncode == 0, f"annual-review {' '.join(args)}: {done.stderr}{done.stdout}"
    return done


def casework(seed: int, n: int) -> list[Envelope[Any]]:
    out = []
    for i, code in enumerate(sorted(COUNCILS)):
        for k in range(n):
            day = date(2019, 4, 1) + timedelta(days=(seed * 37 + i * 11 + k * 29) % 360)
            outcome = ("upheld", "not_upheld", "advice_given")[(seed + i + k) % 3]
            out.append(
                decided(
                    code, f"{code}-{seed}-{k}", day, outcome, outcome == "upheld" and k % 2 == 0
                )
            )
        out.append(complied(code, f"{code}-{seed}-C", date(2019, 10, 1), i % 2 == 0))
    return out


def forged_close(partition_count: int) -> Envelope[Any]:
    """A close as ``cms`` would forge it: its own signatory, letters and publication at once."""
    payload = FinancialYearClosed(
        financial_year=YEAR, close_id=uuid4(), partition_count=partition_count,
        letter_date=date(2020, 4, 2), publication_date=date(2020, 4, 3), signatory=FORGER,
    )  # fmt: skip
    return new_event(payload, council=None, producer="case-management")


async def send_with_aiokafka(
    stack: Stack, event: Envelope[Any], *, partition: int | None, signer: OfficeSigner | None
) -> None:
    """As ``cms`` with aiokafka; with ``signer``, signed by a key the projector does not trust
    (``cms`` made its own, in the office's header format)."""
    cms = as_principal(stack.settings, "cms")
    producer = AIOKafkaProducer(**client_kwargs(cms), acks="all", enable_idempotence=True)
    await producer.start()
    try:
        raw = encode(event)
        extra = [signer.header(raw)] if signer else []
        await producer.send_and_wait(
            stack.facts, raw, key=event.key, partition=partition, headers=headers(event) + extra
        )
    finally:
        await producer.stop()


async def dead_letters(stack: Stack) -> list[tuple[str, str | None, str | None, int]]:
    rows = await stack.fetch(
        "SELECT reason, event_type, council, id FROM readmodel.dead_letters ORDER BY id"
    )
    return [(r["reason"], r["event_type"], r["council"], r["id"]) for r in rows]


async def register_and_start(stack: Stack, mail: Mail) -> None:
    """The office registers the councils (its publisher signs them); the services run."""
    stack.start("services.projector")
    stack.start("services.letters", **letters_env(mail))
    await stack.publish([council(code, group) for code, group in sorted(COUNCILS.items())])
    await stack.wait_caught_up()


async def test_closes_forged_by_the_case_system_are_refused_and_the_offices_close_counts(
    stack: Stack, mail: Mail
) -> None:
    await register_and_start(stack, mail)
    login = Login.of(stack.settings, "cms")
    first, second = casework(1, 6), casework(2, 5)
    await asyncio.to_thread(publish_with_librdkafka, login, stack.facts, first)
    # librdkafka: one marker on partition 0 claiming the topic has one partition.
    await asyncio.to_thread(
        publish_with_librdkafka, login, stack.facts, [forged_close(1)], partition=0
    )
    # aiokafka: 10,000 partitions, signed with a key of its own in the office's format.
    await send_with_aiokafka(
        stack, forged_close(10_000), partition=1,
        signer=OfficeSigner(Ed25519PrivateKey.generate()),
    )  # fmt: skip
    await stack.wait_caught_up()
    assert await stack.fetch("SELECT * FROM readmodel.year_closes") == []
    await asyncio.to_thread(publish_with_librdkafka, login, stack.facts, second)

    cli(stack, "close-year", str(YEAR), "--letter-date", "2020-07-22",
        "--publication-date", "2020-07-29", "--signatory-name", "Michael King",
        "--signatory-title", "Local Government and Social Care Ombudsman")  # fmt: skip
    await stack.wait_caught_up()

    async def complete() -> list[Any]:
        rows = await stack.fetch("SELECT * FROM readmodel.year_closes")
        return rows if rows and rows[0]["completed_at"] is not None else []

    (close,) = await eventually(
        complete, what="the 2019-20 snapshot complete", timeout=120, not_yet=()
    )
    expected = {
        code: counts.as_dict()
        for (code, year), counts in oracle(first + second, registered=COUNCILS).items()
        if year == YEAR
    }
    snapshot = {
        r["council"]: {k: r[k] for k in COUNT_KEYS}
        for r in await stack.fetch("SELECT * FROM readmodel.year_snapshot_councils")
    }

    async def letters() -> list[Any]:
        rows = await stack.fetch("SELECT council, state, recipient, context FROM letters.outbox")
        return rows if len(rows) == len(COUNCILS) else []

    outbox = await eventually(letters, what="a letter per council", timeout=120, not_yet=())
    refused = await dead_letters(stack)
    # An operator cannot launder a refused close by re-driving it.
    redrive = cli(stack, "dlq", "redrive", str(refused[0][3]), ok=False)
    # A refused forgery is not casework: it holds no letter; every one goes out.
    await wait_states(stack, {"sent": len(COUNCILS)})

    assert (
        close["partition_count"] == 6 and json.loads(close["signatory"])["name"] == "Michael King"
    )
    assert close["publication_date"] == date(2020, 7, 29)
    assert snapshot == {c: {k: expected[c].get(k, 0) for k in COUNT_KEYS} for c in COUNCILS}
    assert {r["council"]: LetterInputs.from_json(r["context"]).counts for r in outbox} == snapshot
    assert [(reason, event_type) for reason, event_type, _, _ in refused] == [
        ("not_authorised", "FinancialYearClosed"),
        ("not_authorised", "FinancialYearClosed"),
    ]
    assert redrive.returncode != 0 and "cannot be re-driven" in redrive.stderr + redrive.stdout

    # The same after a replay: the rebuild refuses the same markers, gives the same figures.
    report = await rebuild(stack.settings, ProjectorSettings(max_records=5000))
    assert report is not None and report.identical, report
    replayed = {
        r["council"]: {k: r[k] for k in COUNT_KEYS}
        for r in await stack.fetch("SELECT * FROM readmodel.year_snapshot_councils")
    }
    assert replayed == snapshot
    (again,) = await stack.fetch("SELECT * FROM readmodel.year_closes")
    assert again["close_id"] == close["close_id"]
    assert [d[:2] for d in await dead_letters(stack)] == [d[:2] for d in refused]


async def test_register_changes_from_the_case_system_are_refused_and_letters_go_to_the_office(
    stack: Stack, mail: Mail
) -> None:
    await register_and_start(stack, mail)
    login = Login.of(stack.settings, "cms")
    thief = ChiefExecutive(
        name="Eve Intercept", job_title="Chief Executive", salutation="Dear Eve",
        email="eve@attacker.example.net",
    )  # fmt: skip
    eve_copy = CopyRecipient(name="Eve Copy", role="Leader", email="eve@attacker.example.net")
    redirect = new_event(
        CouncilDetailsChanged(chief_executive=thief, copy_to=[eve_copy]),
        council="OA01", producer="case-management",
    )  # fmt: skip
    regroup = new_event(
        CouncilDetailsChanged(comparison_group="London Borough", population=50_000,
                              population_year=2019),
        council="OA02", producer="case-management",
    )  # fmt: skip
    await asyncio.to_thread(publish_with_librdkafka, login, stack.facts, [redirect])
    await send_with_aiokafka(stack, regroup, partition=None, signer=None)
    await asyncio.to_thread(publish_with_librdkafka, login, stack.facts, casework(3, 4))
    await stack.wait_caught_up()
    councils = {r["code"]: r for r in await stack.fetch("SELECT * FROM readmodel.councils")}
    cli(stack, "close-year", str(YEAR), "--letter-date", "2020-07-22",
        "--publication-date", "2020-07-29", "--signatory-name", "Michael King",
        "--signatory-title", "Local Government and Social Care Ombudsman")  # fmt: skip
    await stack.wait_caught_up()

    async def letters() -> list[Any]:
        rows = await stack.fetch("SELECT council, recipient, context FROM letters.outbox")
        return rows if len(rows) == len(COUNCILS) else []

    rows = await eventually(letters, what="the letters", timeout=120, not_yet=())
    outbox = {r["council"]: r["recipient"] for r in rows}
    inputs = {r["council"]: LetterInputs.from_json(r["context"]) for r in rows}
    refused = await dead_letters(stack)
    await wait_states(stack, {"sent": len(COUNCILS)})
    sent = {
        str(m["X-Annual-Review-Letter"]).split("/")[0]: (str(m["To"]), str(m.get("Cc", "")))
        for m in mail.messages()
    }

    assert '"eve@' not in str(councils["OA01"]["chief_executive"])
    assert councils["OA01"]["chief_executive"] is not None
    assert "ce@oa01.example.org" in str(councils["OA01"]["chief_executive"])
    assert councils["OA01"]["copy_to"] in ("[]", [])
    assert councils["OA02"]["comparison_group"] == "County"
    assert councils["OA02"]["population"] == 100_000
    # The letter goes to the chief executive the office registered, copied to nobody; the
    # other council is compared within the group the office gave it.
    assert outbox["OA01"] == "ce@oa01.example.org", outbox
    assert inputs["OA01"].copy_to == () and inputs["OA01"].addressee is not None
    assert inputs["OA01"].addressee["email"] == "ce@oa01.example.org"
    assert "eve@" not in json.dumps([r["context"] for r in rows])
    # What the SMTP server received: OA01's letter to the office's address, copied to nobody.
    assert "ce@oa01.example.org" in sent["OA01"][0], sent
    assert "eve@" not in " ".join(sent["OA01"]), sent
    assert sorted((r, t, c) for r, t, c, _ in refused) == [
        ("not_authorised", "CouncilDetailsChanged", "OA01"),
        ("not_authorised", "CouncilDetailsChanged", "OA02"),
    ]
