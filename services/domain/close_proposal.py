"""The close with four eyes: a proposal to close a financial year and what becomes of it.

    proposed -> signed_off   (an approver who is not the proposer; only then is the close
                              published)
             -> lapsed       (at the sign-off, what the proposal was bound to had changed)
             -> rejected     (an approver who is not the proposer, with a reason)
             -> withdrawn    (the proposer, with a reason)

There is no table: the truth is the office's audit trail (OfficeActionTaken events naming
the person). ``fold`` turns the trail's entries into the proposals, so a replay of the trail
shows them all, and the rules below decide each step (docs/office.md, "The close with four
eyes"). Pure: no I/O; the callers read the trail and the live figures and publish.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime
from enum import StrEnum

from contracts.financial_year import FinancialYear
from services.domain.statistics import CouncilYearCounts

# The trail's action names this module folds (contracts.events.OfficeAction's values; kept
# as strings here so the fold reads any trail, including actions it does not know).
PROPOSED = "close_proposed"
SIGNED_OFF = "close_signed_off"
REJECTED = "close_rejected"
WITHDRAWN = "close_withdrawn"
LAPSED = "close_lapsed"
CLOSED_ALONE = "year_closed_alone"

# The figures a fingerprint covers: every count of a council-year the letters print.
FIGURE_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(CouncilYearCounts))


# The longest value the audit trail's details hold (contracts: ShortText).
DETAIL_MAX = 100


class State(StrEnum):
    PROPOSED = "proposed"
    SIGNED_OFF = "signed_off"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    LAPSED = "lapsed"

    @property
    def label(self) -> str:
        return {
            "proposed": "waiting for an approver's sign-off",
            "signed_off": "signed off: the year is closed",
            "rejected": "rejected",
            "withdrawn": "withdrawn",
            "lapsed": "lapsed",
        }[self.value]


class CloseRefused(Exception):
    """A step the rules do not allow; the message says why and what to do. Nothing changed."""


class NotYourStep(CloseRefused):
    """The step is someone else's: the proposer signing off or rejecting their own close,
    another person withdrawing it (four eyes)."""


@dataclass(frozen=True, slots=True)
class Terms:
    """What the close will say: the FinancialYearClosed the sign-off publishes."""

    year: FinancialYear
    letter_date: date
    publication_date: date
    signatory_name: str
    signatory_titles: tuple[str, ...]
    letter_format: str
    narrative_version: int


@dataclass(frozen=True, slots=True)
class Binding:
    """What a sign-off is bound to: the state of the year when it was proposed."""

    narrative_sha256: str
    figures_fingerprint: str
    dead_letters: int
    parked: int

    def changes_since(self, proposed: Binding) -> list[str]:
        """Why a sign-off against ``proposed`` lapses now: one sentence per change."""
        reasons = []
        if self.narrative_sha256 != proposed.narrative_sha256:
            reasons.append(
                "the narrative in force changed since the proposal (sha256 "
                f"{proposed.narrative_sha256[:12]}… then, {self.narrative_sha256[:12]}… now)"
            )
        if self.figures_fingerprint != proposed.figures_fingerprint:
            reasons.append(
                "the year's figures changed since the proposal (a decision, correction, "
                "withdrawal or compliance outcome was applied): fingerprint "
                f"{proposed.figures_fingerprint[:12]}… then, {self.figures_fingerprint[:12]}… now"
            )
        if self.dead_letters != proposed.dead_letters:
            reasons.append(
                f"open dead letters: {proposed.dead_letters} then, {self.dead_letters} now"
            )
        if self.parked != proposed.parked:
            reasons.append(f"parked casework events: {proposed.parked} then, {self.parked} now")
        return reasons


@dataclass(frozen=True, slots=True)
class Person:
    """Who took a step: the name the trail shows and the provider's stable subject (the
    four-eyes rule compares subjects: two people may share a display name)."""

    name: str
    subject: str


@dataclass(frozen=True, slots=True)
class Entry:
    """One action on the trail, as the fold needs it."""

    action: str
    actor: str
    at: datetime
    year: FinancialYear | None
    subject: str | None
    reason: str | None
    details: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Proposal:
    id: str
    terms: Terms
    binding: Binding
    proposer: Person
    proposed_at: datetime
    state: State = State.PROPOSED
    decided_by: str | None = None
    decided_at: datetime | None = None
    reason: str | None = None

    @property
    def pending(self) -> bool:
        return self.state is State.PROPOSED


@dataclass(slots=True)
class Trail:
    """The fold of the trail: every proposal (oldest first), and the years closed alone."""

    proposals: dict[str, Proposal] = field(default_factory=dict)
    closed_alone: dict[int, Entry] = field(default_factory=dict)

    def of_year(self, year: FinancialYear) -> list[Proposal]:
        return [p for p in self.proposals.values() if p.terms.year == year]

    def pending(self, year: FinancialYear) -> Proposal | None:
        return next((p for p in self.of_year(year) if p.pending), None)

    def signed_off(self, year: FinancialYear) -> Proposal | None:
        return next((p for p in self.of_year(year) if p.state is State.SIGNED_OFF), None)


# --- the fingerprint ---------------------------------------------------------------------


def figures_fingerprint(rows: Iterable[Mapping[str, object]]) -> str:
    """sha256 of the year's live figures: one line per council, sorted by council code,
    ``code:c1,c2,...`` with the counts of FIGURE_COLUMNS in that order, lines joined by
    ``\\n``. Any decision, correction, withdrawal or compliance outcome applied to the year
    changes it; facts of other years do not."""
    lines = sorted(
        f"{row['council']}:" + ",".join(str(int(str(row[c]))) for c in FIGURE_COLUMNS)
        for row in rows
    )
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


# --- the trail's details of a proposal -----------------------------------------------------


def details_of(terms: Terms, binding: Binding, proposer: Person) -> dict[str, str]:
    """A proposal as the trail's ``details`` (strings, each short)."""
    return {
        "letter_date": terms.letter_date.isoformat(),
        "publication_date": terms.publication_date.isoformat(),
        "signatory_name": terms.signatory_name,
        # One key per title line: the trail's values are short (100 characters each).
        **{f"signatory_title_{i}": t for i, t in enumerate(terms.signatory_titles, 1)},
        "letter_format": terms.letter_format,
        "narrative_version": str(terms.narrative_version),
        "narrative_sha256": binding.narrative_sha256,
        "figures_fingerprint": binding.figures_fingerprint,
        "dead_letters": str(binding.dead_letters),
        "parked": str(binding.parked),
        "proposer_subject": proposer.subject,
    }


def _title_index(key: str) -> int:
    tail = key.removeprefix("signatory_title_")
    return int(tail) if tail.isdigit() else 0


def _proposal(entry: Entry) -> Proposal | None:
    """The proposal an entry states, or None when its details are not a proposal's (a
    trail entry this fold cannot read is ignored, never guessed at)."""
    d = entry.details
    if entry.year is None or entry.subject is None:
        return None
    try:
        terms = Terms(
            year=entry.year,
            letter_date=date.fromisoformat(d["letter_date"]),
            publication_date=date.fromisoformat(d["publication_date"]),
            signatory_name=d["signatory_name"],
            signatory_titles=tuple(
                d[k] for k in sorted(d, key=_title_index) if k.startswith("signatory_title_")
            ),
            letter_format=d["letter_format"],
            narrative_version=int(d["narrative_version"]),
        )
        binding = Binding(
            narrative_sha256=d["narrative_sha256"],
            figures_fingerprint=d["figures_fingerprint"],
            dead_letters=int(d["dead_letters"]),
            parked=int(d["parked"]),
        )
    except (KeyError, ValueError, TypeError):
        return None
    proposer = Person(entry.actor, d.get("proposer_subject") or entry.actor)
    return Proposal(entry.subject, terms, binding, proposer, entry.at)


_ENDS = {
    SIGNED_OFF: State.SIGNED_OFF,
    REJECTED: State.REJECTED,
    WITHDRAWN: State.WITHDRAWN,
    LAPSED: State.LAPSED,
}


def fold(entries: Iterable[Entry]) -> Trail:
    """The proposals and lone closes the trail states, in its order. A step on a proposal
    that is no longer pending (a second sign-off racing the first) changes nothing: the
    first decision stands."""
    trail = Trail()
    for e in entries:
        if e.action == PROPOSED:
            p = _proposal(e)
            if p is not None and p.id not in trail.proposals:
                trail.proposals[p.id] = p
        elif e.action in _ENDS and e.subject in trail.proposals:
            p = trail.proposals[e.subject]
            if p.pending:
                trail.proposals[p.id] = replace(
                    p, state=_ENDS[e.action], decided_by=e.actor, decided_at=e.at, reason=e.reason
                )
        elif e.action == CLOSED_ALONE and e.year is not None:
            trail.closed_alone.setdefault(e.year.start_year, e)
    return trail


# --- the rules -----------------------------------------------------------------------------


def check_proposal(trail: Trail, terms: Terms, *, year_closed: bool) -> None:
    """A new proposal for ``terms.year``: refused while one waits or once the year is closed."""
    waiting = trail.pending(terms.year)
    if waiting is not None:
        raise CloseRefused(
            f"a proposal to close {terms.year} is already waiting (made by "
            f"{waiting.proposer.name}): an approver signs it off or rejects it, or "
            f"{waiting.proposer.name} withdraws it, before another is made"
        )
    if year_closed:
        raise CloseRefused(f"{terms.year} is already closed: there is nothing to propose")
    if terms.publication_date < terms.letter_date:
        raise CloseRefused("the publication date must not be before the letter date")
    if terms.letter_date <= terms.year.last_day:
        raise CloseRefused(
            f"the letter date must be after the financial year ends ({terms.year.last_day})"
        )
    if not terms.signatory_name.strip() or not terms.signatory_titles:
        raise CloseRefused("give the signatory's name and at least one title line")
    if len(terms.signatory_name) > DETAIL_MAX or any(
        len(t) > DETAIL_MAX for t in terms.signatory_titles
    ):
        raise CloseRefused(
            f"the signatory's name and each title line must be at most {DETAIL_MAX} "
            "characters (the audit trail records them as they are)"
        )


def _pending(proposal: Proposal | None) -> Proposal:
    if proposal is None:
        raise CloseRefused("there is no such proposal")
    if not proposal.pending:
        raise CloseRefused(
            f"this proposal is {proposal.state.label}"
            + (f" (by {proposal.decided_by})" if proposal.decided_by else "")
            + ": nothing more can be done with it"
        )
    return proposal


def _reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if not text:
        raise CloseRefused("give a reason: it is recorded on the audit trail")
    return text


@dataclass(frozen=True, slots=True)
class SignOff:
    """The sign-off is valid: publish the close with these terms."""

    proposal: Proposal


@dataclass(frozen=True, slots=True)
class Lapse:
    """The proposal no longer describes the year: it lapses, for these reasons."""

    proposal: Proposal
    reasons: Sequence[str]


def sign_off(
    proposal: Proposal | None, signer: Person, now: Binding, *, year_closed: bool = False
) -> SignOff | Lapse:
    """The four-eyes rule, then the binding: a proposer never signs their own close; a
    proposal whose narrative, figures or counts changed lapses rather than closes; a year
    closed meanwhile (the CLI's close) is not closed again."""
    p = _pending(proposal)
    if signer.subject == p.proposer.subject:
        raise NotYourStep("you proposed this close: another approver must sign it off (four eyes)")
    if year_closed:
        raise CloseRefused(
            f"{p.terms.year} was closed meanwhile (without this proposal): withdraw it"
        )
    reasons = now.changes_since(p.binding)
    if reasons:
        return Lapse(p, reasons)
    return SignOff(p)


def reject(proposal: Proposal | None, approver: Person, reason: str | None) -> str:
    """An approver who is not the proposer rejects; the reason to record."""
    p = _pending(proposal)
    if approver.subject == p.proposer.subject:
        raise NotYourStep("you proposed this close: withdraw it instead of rejecting it")
    return _reason(reason)


def withdraw(proposal: Proposal | None, person: Person, reason: str | None) -> str:
    """Only the proposer withdraws their proposal; the reason to record."""
    p = _pending(proposal)
    if person.subject != p.proposer.subject:
        raise NotYourStep(
            f"only {p.proposer.name}, who proposed it, may withdraw this proposal; "
            "an approver may reject it"
        )
    return _reason(reason)
