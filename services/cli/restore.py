"""``annual-review restore``: the database written back from the log after it was lost.

The read models are folded again from the facts topic (the rebuild's fold), the dead letters
take their ids from the dead-letter topic, the letters their records and renderings from the
letters topic, and every year whose publication moment has passed is published again. Run
on an empty database, after the migrations, as the database owner, with the services
stopped; nothing is sent and nothing is published to Kafka (docs/operations.md, "Recovery").
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import asyncpg
import typer
from aiokafka.errors import KafkaConnectionError, KafkaError, TopicAuthorizationFailedError

from contracts.topics import DEAD_LETTERS, LETTERS
from services.audit.trail import dead_letter_decisions, read_trail
from services.cli.common import ExitCode, fail, out, print_json, run, settings
from services.cli.progress import progress
from services.letters import outbox
from services.letters.restore import (
    LettersRestored,
    RestoreRefused,
    forget_letters,
    letters_present,
    restore_letters,
)
from services.platform.kafka.topic_reader import read_whole_topic
from services.platform.settings import Settings, as_principal, redact_url
from services.projector.config import get_projector_settings
from services.projector.rebuild import RebuildProgress
from services.projector.restore import (
    ReadModelsRestored,
    restore_read_models,
)
from services.publication.job import forget_publications, publications_present
from services.publication.job import restore_publications as republish
from services.readmodel.versions import versions_present

# The letters and dead-letter topics are read whole before anything is written.
TOPIC_READ_TIMEOUT_S = 600.0


class NotEmpty(Exception):
    """The database holds what a restore would write: refused unless forced."""


class NotMigrated(Exception):
    """The schema is not there: the migrations come first."""


@dataclass(frozen=True, slots=True)
class RestoreReport:
    read_models: ReadModelsRestored
    letters: LettersRestored
    published: list[str]
    seconds: float


async def restore_database(
    s: Settings, *, force: bool, workers: int = 1,
    on_progress: Callable[[RebuildProgress], None] = lambda _: None,
    on_step: Callable[[str], None] = lambda _: None,
) -> RestoreReport:  # fmt: skip
    """The use case: everything the database held that the log can give back."""
    started = time.monotonic()
    conn: asyncpg.Connection = await asyncpg.connect(s.database_url, timeout=10)
    try:
        if not await outbox.exists(conn):
            raise NotMigrated
        held = {
            "read-model versions": await versions_present(conn),
            "letters": await letters_present(conn),
            "publications": await publications_present(conn),
        }
        if any(held.values()) and not force:
            raise NotEmpty(", ".join(f"{n} {what}" for what, n in held.items() if n))
        on_step("reading the letters and dead-letter topics and the audit trail")
        letters = await read_whole_topic(s, LETTERS, timeout_s=TOPIC_READ_TIMEOUT_S)
        copies = await read_whole_topic(s, DEAD_LETTERS, timeout_s=TOPIC_READ_TIMEOUT_S)
        decisions = dead_letter_decisions(await read_trail(s))
        if force:
            async with conn.transaction():
                await forget_letters(conn)
                await forget_publications(conn)
        on_step("folding the facts topic into the read models")
        read_models = await restore_read_models(
            s, get_projector_settings(), conn, copies, decisions=decisions, workers=workers,
            on_progress=on_progress,
        )  # fmt: skip
        on_step("writing the letters back")
        restored = await restore_letters(conn, letters)
    finally:
        await conn.close()
    on_step("publishing the years whose publication date has passed")
    # As the publication job's own principal: the record names who made it.
    job: asyncpg.Connection = await asyncpg.connect(
        as_principal(s, "publication").database_url, timeout=10
    )
    try:
        published = [y.label for y in await republish(job)]
    finally:
        await job.close()
    return RestoreReport(read_models, restored, published, time.monotonic() - started)


def restore(
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Restore into a database that is not empty: its letters and publication "
            "records are emptied first, and the read models rebuilt into a new version.",
        ),
    ] = False,
    workers: Annotated[
        int, typer.Option(min=1, max=16, help="Processes folding the facts topic.")
    ] = 1,
    json_output: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Write the database back from the log, after it was lost.

    Run it on an empty database after the migrations (`make migrate`), as the database owner
    (AR_PRINCIPAL=admin), with the projector, the letter service and the publication job
    stopped. It rebuilds every statistic, snapshot, late event and dead letter (with the ids
    operators knew) from the facts and dead-letter topics, writes every letter back from the
    letters topic (its record, and the text, HTML and PDF as sent, checked against their
    SHA-256), and publishes again each year whose publication date has passed. It sends
    nothing: a letter caught between its claim and the mail server's answer becomes
    uncertain, for an operator to confirm or resend. It refuses a database that is not
    empty (exit code 1) unless --force is given.
    """
    s = settings()
    with progress(total_known=False, disable=json_output) as bar:
        task = bar.add_task("restoring", total=None)

        def step(what: str) -> None:
            bar.update(task, description=what)

        def show(p: RebuildProgress) -> None:
            bar.update(
                task, completed=p.applied,
                description=f"folding the facts: {p.events_per_second:,.0f} events/s, "
                f"{p.remaining:,} to go",
            )  # fmt: skip

        try:
            report = run(
                restore_database(s, force=force, workers=workers, on_progress=show, on_step=step)
            )
        except NotMigrated:
            fail(
                "the database has no schema yet",
                hint="apply the migrations first (`make migrate`, or "
                "`python -m services.platform.migrations apply` as the owner)",
                code=ExitCode.USAGE,
            )
        except NotEmpty as e:
            fail(
                f"the database is not empty ({e}): a restore writes into an empty one",
                hint="restore into a new database, or give --force to empty the letters and "
                "publication records and rebuild the read models into a new version",
                code=ExitCode.INVALID_INPUT,
            )
        except RestoreRefused as e:
            fail(f"the log cannot give the letters back: {e}", code=ExitCode.INVALID_INPUT)
        except asyncpg.InsufficientPrivilegeError as e:
            fail(
                f"PostgreSQL refused this role ({e})",
                hint="run it as the database owner: AR_PRINCIPAL=admin",
                code=ExitCode.USAGE,
            )
        except (OSError, asyncpg.PostgresConnectionError, TimeoutError) as e:
            fail(
                f"cannot reach PostgreSQL at {redact_url(s.database_url)} or Kafka ({e})",
                hint="run `make up` first",
                code=ExitCode.UNAVAILABLE,
            )
        except TopicAuthorizationFailedError as e:
            fail(
                f"Kafka refused this principal a topic ({e})",
                hint="run it as AR_PRINCIPAL=admin",
                code=ExitCode.USAGE,
            )
        except (KafkaConnectionError, KafkaError) as e:
            fail(f"cannot reach Kafka ({e})", hint="run `make up` first", code=ExitCode.UNAVAILABLE)
    result: dict[str, Any] = {
        "read_model_version": report.read_models.version,
        "events": report.read_models.events,
        "dead_letters_numbered_from_the_log": report.read_models.dead_letters,
        "letters": report.letters.letters,
        "letters_rendered": report.letters.rendered,
        "letter_events": report.letters.events,
        "letters_by_state": report.letters.by_state,
        "letters_made_uncertain": report.letters.unsettled,
        "published": report.published,
        "seconds": round(report.seconds, 2),
    }
    if json_output:
        print_json(result)
        return
    out.print(
        f"restored in {report.seconds:.1f} s: {report.read_models.events:,} facts into read-model "
        f"version {report.read_models.version}, {report.letters.letters:,} letters "
        f"({report.letters.rendered:,} rendered) from {report.letters.events:,} letter events, "
        f"published again: {', '.join(report.published) or 'none'}"
    )
    states = ", ".join(f"{n} {state}" for state, n in sorted(report.letters.by_state.items()))
    out.print(f"letters by state: {states or 'none'}")
    if report.letters.unsettled:
        out.print(
            f"[yellow]{len(report.letters.unsettled)} letter(s) now uncertain[/] (claimed, no "
            "answer in the log): "
            + ", ".join(report.letters.unsettled)
            + "; check the mailbox, then `annual-review letters confirm-sent` or `resend`"
        )
    out.print("start the services: nothing will be sent again")
