"""The close with four eyes, as the workspace takes it: propose, sign off, reject, withdraw
(docs/office.md, "The close with four eyes").

The state is the audit trail: each step reads the trail, folds it
(services/domain/close_proposal.py), decides by the rules there, and records its step as an
OfficeActionTaken naming the person, after its effect. Only a valid sign-off publishes the
close, through the same use case as the CLI's ``close-year`` (services/letters/closing.py),
as the workspace's own Kafka principal.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import date
from email.message import EmailMessage
from typing import TypeVar
from uuid import uuid4

import asyncpg
import structlog
from aiokafka.errors import KafkaError
from pydantic import ValidationError

from contracts.codec import describe
from contracts.events import OfficeAction
from contracts.financial_year import FinancialYear
from contracts.topics import FACTS
from services.audit.record import PRODUCER_WORKSPACE, ActionRecord, Actor, record_action
from services.audit.trail import AuditEntry, fold_entries, read_trail
from services.domain import close_proposal as rules
from services.domain.close_proposal import Binding, CloseRefused, Person, Proposal, Terms, Trail
from services.domain.narrative_book import NarrativeVersion
from services.letters import smtp_client
from services.letters.closing import (
    CannotClose,
    CloseRequest,
    check_request,
    narrative_in_force,
    publish_close,
    with_narrative,
)
from services.letters.config import get_letters_settings
from services.letters.narrative_registry import load_book
from services.office.config import OfficeSettings
from services.platform.kafka.reachability import KafkaUnavailable, checked_publisher
from services.platform.office_signature import MissingOfficeKey
from services.platform.settings import Settings
from services.projector.lag import end_offsets
from services.readmodel.council_figures import registered_councils
from services.readmodel.status import read_status

log = structlog.get_logger(__name__)
KAFKA_TIMEOUT_S = 20.0
CATCH_UP_WAIT_S = 5.0
T = TypeVar("T")


class Unavailable(Exception):
    """Kafka (the trail, the narratives, the facts' ends) cannot be read: nothing was done."""


@dataclass(frozen=True, slots=True)
class YearNow:
    """What a proposal made now would be bound to, and what the year's close would print."""

    year: FinancialYear
    narrative: NarrativeVersion | None
    binding: Binding | None
    closed: bool
    waiting_events: int  # facts published and not yet applied by the projector
    problem: str | None  # why no proposal can be bound now


@dataclass(frozen=True, slots=True)
class CloseView:
    year: FinancialYear
    now: YearNow
    trail: Trail
    entries: list[AuditEntry]

    @property
    def pending(self) -> Proposal | None:
        return self.trail.pending(self.year)

    @property
    def history(self) -> list[Proposal]:
        return list(reversed(self.trail.of_year(self.year)))


async def _kafka(what: str, coro: Awaitable[T]) -> T:
    try:
        async with asyncio.timeout(KAFKA_TIMEOUT_S):
            return await coro
    except (KafkaError, OSError, TimeoutError, KafkaUnavailable) as e:
        raise Unavailable(f"cannot read {what} on Kafka ({type(e).__name__})") from None


async def read_trail_folded(settings: Settings) -> tuple[list[AuditEntry], Trail]:
    entries = await _kafka("the audit trail", read_trail(settings))
    return entries, rules.fold(fold_entries(entries))


async def year_now(pool: asyncpg.Pool, settings: Settings, year: FinancialYear) -> YearNow:
    """The year's state as a proposal or a sign-off binds it. The figures count only once the
    projector has applied every fact published so far: a fingerprint of figures still moving
    would bind nothing."""
    ends = await _kafka("the facts topic's end offsets", end_offsets(settings))
    book = await _kafka("the narratives", load_book(settings))
    # Facts flow all year (the next year's casework): give the projector a few seconds to
    # apply what was published before this moment rather than refuse at once.
    deadline = asyncio.get_running_loop().time() + CATCH_UP_WAIT_S
    while True:
        async with pool.acquire() as conn:
            status = await read_status(conn, settings.topic(FACTS), ends)
            rows = await registered_councils(conn, year) if status.version else []
        if not status.lag or asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.25)
    closed = any(y["start_year"] == year.start_year for y in status.years)
    try:
        narrative: NarrativeVersion | None = narrative_in_force(book, year)
        problem = None
    except CannotClose as e:
        narrative, problem = None, f"{e} ({e.hint})" if e.hint else str(e)
    if status.version is None:
        problem = "the read models are not built yet: the projector has not started"
    elif status.lag:
        problem = (
            f"the projector has {status.lag} published event(s) still to apply: "
            "the figures are still moving; wait until it has caught up and reload"
        )
    binding = None
    if narrative is not None and problem is None:
        binding = Binding(
            narrative_sha256=narrative.sha256,
            figures_fingerprint=rules.figures_fingerprint(
                {"council": r["code"], **{c: r[c] for c in rules.FIGURE_COLUMNS}} for r in rows
            ),
            dead_letters=status.dead_letters.get("open", 0),
            parked=sum(p["events"] for p in status.parked),
        )
    return YearNow(year, narrative, binding, closed, status.lag, problem)


async def close_view(pool: asyncpg.Pool, settings: Settings, year: FinancialYear) -> CloseView:
    entries, trail = await read_trail_folded(settings)
    return CloseView(year, await year_now(pool, settings, year), trail, entries)


def _bound(now: YearNow) -> tuple[NarrativeVersion, Binding]:
    if now.narrative is None or now.binding is None:
        raise CloseRefused(now.problem or "the year cannot be bound now")
    return now.narrative, now.binding


@dataclass(frozen=True, slots=True)
class ProposalForm:
    letter_date: date
    publication_date: date
    signatory_name: str
    signatory_titles: tuple[str, ...]


async def propose(
    pool: asyncpg.Pool,
    settings: Settings,
    office: OfficeSettings,
    actor: Actor,
    person: Person,
    year: FinancialYear,
    form: ProposalForm,
) -> tuple[str, str | None]:
    """Record a proposal bound to the year as it is now; the proposal's id, and why the
    approvers could not be e-mailed (None when they were, or none is configured)."""
    view = await close_view(pool, settings, year)
    narrative, binding = _bound(view.now)
    request = CloseRequest(
        year, form.letter_date, form.publication_date, form.signatory_name, form.signatory_titles
    )
    try:
        check_request(request)
    except CannotClose as e:
        raise CloseRefused(str(e)) from None
    terms = Terms(
        year,
        form.letter_date,
        form.publication_date,
        form.signatory_name,
        form.signatory_titles,
        narrative.letter_format,
        narrative.version,
    )
    rules.check_proposal(view.trail, terms, year_closed=view.now.closed)
    proposal_id = str(uuid4())
    await _record(
        settings,
        actor,
        ActionRecord(
            OfficeAction.CLOSE_PROPOSED,
            financial_year=year,
            subject=proposal_id,
            details=rules.details_of(terms, binding, person),
        ),
    )
    mail_problem = await tell_approvers(settings, office, actor, terms)
    return proposal_id, mail_problem


@dataclass(frozen=True, slots=True)
class SignOffOutcome:
    proposal: Proposal
    closed: bool
    reasons: tuple[str, ...] = ()  # why it lapsed


async def sign_off(
    pool: asyncpg.Pool,
    settings: Settings,
    actor: Actor,
    person: Person,
    year: FinancialYear,
    proposal_id: str,
) -> SignOffOutcome:
    """The four-eyes rule, then the binding; a valid sign-off publishes the close (the same
    use case as ``close-year``), then records itself; a changed year lapses the proposal."""
    view = await close_view(pool, settings, year)
    proposal = _of_year(view, proposal_id)
    now = view.now.binding
    if now is None:
        # Figures still moving (or no narrative at all): no decision either way yet.
        raise CloseRefused(view.now.problem or "the year cannot be checked now")
    outcome = rules.sign_off(proposal, person, now, year_closed=view.now.closed)
    if isinstance(outcome, rules.Lapse):
        reason = "; ".join(outcome.reasons)[:500]
        await _record(
            settings,
            actor,
            ActionRecord(
                OfficeAction.CLOSE_LAPSED, financial_year=year, subject=proposal_id, reason=reason
            ),
        )
        return SignOffOutcome(outcome.proposal, closed=False, reasons=tuple(outcome.reasons))
    p = outcome.proposal
    payload = check_request(
        CloseRequest(
            year, p.terms.letter_date, p.terms.publication_date, p.terms.signatory_name,
            p.terms.signatory_titles,
        )
    )  # fmt: skip
    assert view.now.narrative is not None  # bound above
    payload = with_narrative(payload, view.now.narrative)
    try:
        await publish_close(settings, payload, producer=PRODUCER_WORKSPACE)
    except KafkaUnavailable as e:
        raise Unavailable(f"{e}; the year was not closed") from None
    except MissingOfficeKey:
        raise Unavailable(
            "the workspace has no office signing key (AR_OFFICE_SIGNING_KEY_FILE, "
            "docs/security.md): the year was not closed and the proposal still waits"
        ) from None
    await _record(
        settings,
        actor,
        ActionRecord(
            OfficeAction.CLOSE_SIGNED_OFF,
            financial_year=year,
            subject=proposal_id,
            details={"close_id": str(payload["close_id"]), "proposer": p.proposer.name[:100]},
        ),
    )
    return SignOffOutcome(p, closed=True)


async def reject(
    settings: Settings, actor: Actor, person: Person, year: FinancialYear, proposal_id: str,
    reason: str | None,
) -> None:  # fmt: skip
    _, trail = await read_trail_folded(settings)
    text = rules.reject(_in(trail, year, proposal_id), person, reason)
    await _record(
        settings,
        actor,
        ActionRecord(OfficeAction.CLOSE_REJECTED, financial_year=year, subject=proposal_id,
                     reason=text[:500]),
    )  # fmt: skip


async def withdraw(
    settings: Settings, actor: Actor, person: Person, year: FinancialYear, proposal_id: str,
    reason: str | None,
) -> None:  # fmt: skip
    _, trail = await read_trail_folded(settings)
    text = rules.withdraw(_in(trail, year, proposal_id), person, reason)
    await _record(
        settings,
        actor,
        ActionRecord(OfficeAction.CLOSE_WITHDRAWN, financial_year=year, subject=proposal_id,
                     reason=text[:500]),
    )  # fmt: skip


def _in(trail: Trail, year: FinancialYear, proposal_id: str) -> Proposal | None:
    p = trail.proposals.get(proposal_id)
    return p if p is not None and p.terms.year == year else None


def _of_year(view: CloseView, proposal_id: str) -> Proposal | None:
    return _in(view.trail, view.year, proposal_id)


async def _record(settings: Settings, actor: Actor, record: ActionRecord) -> None:
    try:
        async with checked_publisher(settings) as p:
            await record_action(p, actor, record)
    except ValidationError as e:  # e.g. a control character in a reason: nothing recorded
        raise CloseRefused(f"cannot be recorded: {describe(e).removeprefix('event: ')}") from None
    except (KafkaUnavailable, KafkaError, OSError) as e:
        raise Unavailable(f"cannot record the action on the audit trail ({e})") from None


async def tell_approvers(
    settings: Settings, office: OfficeSettings, actor: Actor, terms: Terms
) -> str | None:
    """E-mail the approvers (AR_OFFICE_APPROVER_EMAILS) that a close waits for them, through
    the letters' SMTP settings and client. A failure does not undo the proposal: it is said
    on the page and in the log."""
    if not office.approver_emails:
        return None
    message = EmailMessage()
    message["From"] = office.mail_sender
    message["To"] = ", ".join(office.approver_emails)
    message["Subject"] = f"A close of {terms.year} waits for your sign-off"
    link = f"{office.base_url}/years/{terms.year.label}/close"
    message.set_content(
        f"{actor.name} proposed to close the financial year {terms.year}: letters dated "
        f"{terms.letter_date}, published {terms.publication_date}, signed by "
        f"{terms.signatory_name}, narrative version {terms.narrative_version}.\n\n"
        f"An approver other than {actor.name} signs it off, or rejects it, at:\n{link}\n"
    )
    letters = get_letters_settings()
    try:
        await smtp_client.send(
            message,
            host=settings.smtp_host,
            port=settings.smtp_port,
            settings=letters,
            context=smtp_client.tls_context(letters.smtp_ca_file),
        )
    except Exception as e:  # any failure of the mail is reported, never raised
        log.warning("the approvers could not be e-mailed", error=type(e).__name__)
        return f"the approvers could not be e-mailed ({type(e).__name__}): tell them yourself"
    return None
