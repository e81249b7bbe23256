"""``annual-review close-year``: close a financial year (one FinancialYearClosed per partition)."""

from __future__ import annotations

import sys
from datetime import date
from typing import Annotated, Any
from uuid import UUID

import typer
from aiokafka.errors import KafkaError

from contracts.events import OfficeAction
from contracts.financial_year import FinancialYear, long_date
from contracts.topics import FACTS
from services.audit.record import PRODUCER_CLI, ActionRecord, cli_actor, record_action
from services.cli.common import (
    ExitCode,
    fail,
    out,
    parse_date,
    parse_year,
    print_json,
    run,
    settings,
)
from services.cli.narratives import on_kafka
from services.domain.narrative_book import NarrativeVersion
from services.letters.closing import (
    CannotClose,
    CloseRequest,
    check_letter_year,
    check_request,
    narrative_in_force,
    publish_close,
    with_narrative,
)
from services.letters.narrative_registry import load_book
from services.platform.kafka.publisher import Position
from services.platform.kafka.reachability import KafkaUnavailable, checked_publisher
from services.platform.settings import Settings

PRODUCER = PRODUCER_CLI


async def _close_alone(
    settings: Settings, payload: dict[str, Any]
) -> tuple[list[Position], str | None]:
    """Publish the close, then record it on the audit trail as a close without a second
    signature (the workspace's board shows it so: docs/office.md, "When the identity
    provider is down"). The second value: why the record failed, if it did (the close
    stands; the operator is told)."""
    positions = await publish_close(settings, payload, producer=PRODUCER)
    try:
        await _record_alone(settings, payload)
    except (KafkaUnavailable, KafkaError, OSError) as e:
        return positions, f"{type(e).__name__}: {e}"
    return positions, None


async def _record_alone(settings: Settings, payload: dict[str, Any]) -> None:
    year: FinancialYear = payload["financial_year"]
    async with checked_publisher(settings) as p:
        await record_action(
            p,
            cli_actor(),
            ActionRecord(
                OfficeAction.YEAR_CLOSED_ALONE,
                financial_year=year,
                subject=str(payload["close_id"]),
                details={
                    "letter_date": payload["letter_date"].isoformat(),
                    "publication_date": payload["publication_date"].isoformat(),
                    "narrative_version": str(payload["narrative_version"]),
                    "narrative_sha256": payload["narrative_sha256"],
                },
            ),
        )


def letter_year_in_force(year: FinancialYear, as_json: bool) -> NarrativeVersion:
    """The format and narrative the year's letters will print, or a refusal that says what
    to do: nothing is published for a year whose letters cannot be made."""
    try:
        check_letter_year(year)  # before reading anything
        return narrative_in_force(on_kafka(load_book(settings())), year)
    except CannotClose as e:
        fail(str(e), hint=e.hint, code=ExitCode.INVALID_INPUT, as_json=as_json)


def close_year(
    year: Annotated[
        FinancialYear,
        typer.Argument(
            parser=parse_year, metavar="YEAR", help="The financial year to close, e.g. 2019-20."
        ),
    ],
    letter_date: Annotated[
        date,
        typer.Option(
            parser=parse_date,
            metavar="DATE",
            help="The date printed on the year's letters (after the year ends), e.g. 2020-07-22.",
            show_default=False,
        ),
    ],
    publication_date: Annotated[
        date,
        typer.Option(
            parser=parse_date,
            metavar="DATE",
            help="When the figures are published (not before the letter date), e.g. 2020-07-29.",
            show_default=False,
        ),
    ],
    signatory_name: Annotated[
        str, typer.Option(help="Who signs the letters, e.g. 'Michael King'.", show_default=False)
    ],
    signatory_title: Annotated[
        list[str],
        typer.Option(
            help="A title line under the signature; repeat for each line (1 to 4).",
            show_default=False,
        ),
    ],
    close_id: Annotated[
        UUID | None,
        typer.Option(
            help="Reuse the id of an earlier attempt (to retry the same close). Default: a new id.",
            show_default=False,
        ),
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the close id and positions as JSON.")
    ] = False,
) -> None:
    """Close a financial year, so that its letters can be decided and sent.

    The letters are decided on exactly the facts published before the close: one
    FinancialYearClosed is published to every partition of the facts topic (the same close
    id on each), and Kafka orders each copy after every fact already on its partition.
    Example:

      annual-review close-year 2019-20 --letter-date 2020-07-22 --publication-date 2020-07-29
      --signatory-name "Michael King"
      --signatory-title "Local Government and Social Care Ombudsman"
      --signatory-title "Chair, Commission for Local Administration in England"
    """
    request = CloseRequest(
        year, letter_date, publication_date, signatory_name, tuple(signatory_title), close_id
    )
    try:  # the same checks the publisher makes, before reading anything
        payload = check_request(request)
    except CannotClose as e:
        fail(str(e), code=ExitCode.INVALID_INPUT)
    the_id = payload["close_id"]
    payload = with_narrative(payload, letter_year_in_force(year, json_output))
    try:
        positions, unrecorded = run(_close_alone(settings(), payload))
    except KafkaUnavailable as e:
        fail(
            f"{e}; the year was not closed",
            hint=e.hint,
            code=ExitCode.UNAVAILABLE,
            as_json=json_output,
        )
    facts_topic = settings().topic(FACTS)
    markers = [p for p in positions if p.topic == facts_topic]
    announcements = [p for p in positions if p.topic != facts_topic]
    result = {
        "financial_year": year.label,
        "close_id": str(the_id),
        "letter_date": letter_date.isoformat(),
        "publication_date": publication_date.isoformat(),
        "topic": facts_topic,
        "partitions": [{"partition": p.partition, "offset": p.offset} for p in markers],
        "announced": [
            {"topic": p.topic, "partition": p.partition, "offset": p.offset} for p in announcements
        ],
    }
    if unrecorded:
        result["audit_warning"] = f"the close was not recorded on the audit trail: {unrecorded}"
        print(f"warning: {result['audit_warning']}", file=sys.stderr)
    if json_output:
        print_json(result)
        return
    out.print(f"[bold green]Closed {year}[/]: close id {the_id}")
    out.print(
        f"letters dated {long_date(letter_date)}, published {long_date(publication_date)}, "
        f"signed by {signatory_name}"
    )
    out.print(
        f"FinancialYearClosed on {len(markers)} partition(s) of {facts_topic} "
        "(partition@offset): " + ", ".join(f"{p.partition}@{p.offset}" for p in markers)
    )
    for p in announcements:
        out.print(f"announced to the letters service on {p.topic} at {p.partition}@{p.offset}")
    if not unrecorded:
        out.print(
            f"recorded on the audit trail as closed without a second signature, by "
            f"{cli_actor().name} (the workspace's board and audit page show it so)"
        )
