"""The year board's close line, folded from the audit trail: a waiting proposal, a
sign-off by whom, a lapse with its reason, and a CLI close without a second signature."""

from __future__ import annotations

from datetime import UTC, date, datetime

from contracts.financial_year import FinancialYear
from services.audit.trail import parse_record
from services.domain import close_proposal as rules
from services.domain.close_proposal import Binding, Entry, Person, Terms
from services.office.board import build_board
from services.readmodel.status import Status

AT = datetime(2020, 6, 1, tzinfo=UTC)
TERMS = Terms(FinancialYear(2019), date(2020, 7, 22), date(2020, 7, 29), "M K", ("O",), "2020", 0)
PROPOSED = rules.details_of(TERMS, Binding("a" * 64, "b" * 64, 0, 0), Person("Ada", "s-ada"))


def _entry(action: str, actor: str, year: int, **kw: str) -> Entry:
    details = PROPOSED if action == rules.PROPOSED else {}
    return Entry(
        action, actor, AT, FinancialYear(year), kw.get("subject", "p1"), kw.get("reason"), details
    )


def _line(*entries: Entry, year: int = 2019) -> str:
    status = Status(version="rm_v1")
    board = build_board(status, {"by_state": {}}, [], [], None, None, rules.fold(entries))
    row = next(r for r in board.years if r.year == FinancialYear(year))
    return row.close_review


def test_a_waiting_proposal_then_its_sign_off_show_on_the_board() -> None:
    proposed = _entry(rules.PROPOSED, "Ada", 2019)
    assert _line(proposed) == "proposed by Ada: waiting for an approver's sign-off"
    signed = _entry(rules.SIGNED_OFF, "Bea", 2019)
    assert _line(proposed, signed) == "signed off by Bea, proposed by Ada"


def test_a_lapse_shows_its_reason() -> None:
    lapsed = _entry(rules.LAPSED, "Bea", 2019, reason="the year's figures changed")
    line = _line(_entry(rules.PROPOSED, "Ada", 2019), lapsed)
    assert line == "last proposal lapsed (the year's figures changed)"


def test_a_close_by_the_cli_is_shown_without_a_second_signature() -> None:
    alone = _entry(rules.CLOSED_ALONE, "operator:ops", 2019, subject="c1")
    line = _line(_entry(rules.PROPOSED, "Ada", 2019), alone)
    assert line == "closed without a second signature (the CLI, by operator:ops)"


def test_an_unreadable_record_on_the_trail_is_listed_not_dropped() -> None:
    entry = parse_record(7, b"not json")
    assert entry.unreadable and entry.offset == 7 and entry.as_fold_entry() is None
