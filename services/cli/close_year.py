"""``annual-review close-year``: close a financial year (one FinancialYearClosed per partition)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from uuid import UUID, uuid4

import typer
from pydantic import ValidationError

from contracts.codec import describe
from contracts.events import FinancialYearClosed
from contracts.financial_year import FinancialYear, long_date
from contracts.topics import FACTS
from contracts.values import LETTER_FORMATS
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
from services.domain.letter_formats import UnsupportedLetterYear, format_advice, format_for
from services.domain.narrative_book import NarrativeVersion
from services.letters.narrative_registry import load_book
from services.platform.kafka.publisher import Position
from services.platform.kafka.reachability import KafkaUnavailable, checked_publisher
from services.platform.settings import Settings

PRODUCER = "annual-review-cli"


async def _close(settings: Settings, payload: dict[str, Any]) -> list[Position]:
    async with checked_publisher(settings) as p:
        return await p.close_year(payload, producer=PRODUCER)


def letter_year_in_force(year: FinancialYear, as_json: bool) -> NarrativeVersion:
    """The format and narrative the year's letters will print, or a refusal that says what
    to do: nothing is published for a year whose letters cannot be made."""
    letter_year = year.letter_year
    try:  # a year there can be no letters for is refused before reading anything
        format_for(letter_year, LETTER_FORMATS[-1])
    except UnsupportedLetterYear as e:
        fail(f"cannot close {year}: {e}", code=ExitCode.INVALID_INPUT, as_json=as_json)
    book = on_kafka(load_book(settings()))
    narrative = book.in_force(letter_year)
    if narrative is None:
        register = f"`annual-review letters narrative set {letter_year} FILE`"
        try:
            format_for(letter_year)
            missing = "no narrative is registered"
        except UnsupportedLetterYear:
            missing = "no narrative (and so no letter format) is registered"
            register = format_advice(letter_year).removeprefix("e.g. ")
        fail(
            f"cannot close {year}: {missing} for the {letter_year} letters; nothing was published",
            hint=f"write the year's narrative (docs/narratives.md), proof it with "
            f"`annual-review letters proof {year} --narrative FILE`, then register it with "
            + register,
            code=ExitCode.INVALID_INPUT,
            as_json=as_json,
        )
    return narrative


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
    the_id = close_id or uuid4()
    payload: dict[str, Any] = {
        "close_id": the_id,
        "financial_year": year,
        "letter_date": letter_date,
        "publication_date": publication_date,
        "signatory": {"name": signatory_name, "titles": tuple(signatory_title)},
    }
    try:  # the same checks the publisher makes, before reading anything
        FinancialYearClosed.model_validate({**payload, "partition_count": 1})
    except ValidationError as e:
        fail(
            f"cannot close {year}: {describe(e).removeprefix('event: ')}",
            code=ExitCode.INVALID_INPUT,
        )
    narrative = letter_year_in_force(year, json_output)
    payload |= {
        "letter_format": narrative.letter_format,
        "narrative_version": narrative.version,
        "narrative_sha256": narrative.sha256,
    }
    try:
        positions = run(_close(settings(), payload))
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
