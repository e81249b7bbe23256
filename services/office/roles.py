"""Who may do what in the office workspace: the roles, the actions, and the one table between
them. Every route names its action (services/office/guard.py checks it on the server); later
parts of the workspace add their actions here, and tests/unit/test_office_roles.py reads the
table to check every role against every route."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum


class Role(StrEnum):
    AUTHOR = "author"  # writes the year's narrative, makes proofs
    APPROVER = "approver"  # signs off closes, releases held letters, re-issues
    DATA_OFFICER = "data_officer"  # dead letters, parked casework, re-drive
    VIEWER = "viewer"  # reads everything, changes nothing

    @property
    def label(self) -> str:
        return {"data_officer": "data officer"}.get(self.value, self.value)


class Action(StrEnum):
    VIEW_BOARD = "view_board"
    SIGN_OUT = "sign_out"
    # A placeholder that changes nothing but the user's own session: it stands for the first
    # real action (later parts: narrative, proofs, close, letters, dead letters), so that the
    # refusal of a viewer on the server is tested before those exist.
    MARK_BOARD_SEEN = "mark_board_seen"
    # The close with four eyes (docs/office.md): who proposes, who signs off, who may end a
    # proposal; the rules between people (never your own) are services/domain/close_proposal.py.
    VIEW_CLOSE = "view_close"
    PROPOSE_CLOSE = "propose_close"
    SIGN_OFF_CLOSE = "sign_off_close"
    REJECT_CLOSE = "reject_close"
    WITHDRAW_CLOSE = "withdraw_close"
    VIEW_AUDIT = "view_audit"
    # Letters (services/office/letters_pages.py; docs/office.md, "Letters").
    VIEW_LETTERS = "view_letters"
    RELEASE_LETTER = "release_letter"
    RESEND_LETTER = "resend_letter"
    REISSUE_LETTER = "reissue_letter"
    WITHDRAW_LETTER = "withdraw_letter"
    # Dead letters and parked casework (services/office/dead_letter_pages.py).
    VIEW_DEAD_LETTERS = "view_dead_letters"
    REDRIVE_DEAD_LETTERS = "redrive_dead_letters"
    # The narrative (services/office/narrative_pages.py): every role reads the versions and
    # their differences; the author writes, checks and previews a draft, and registers it.
    VIEW_NARRATIVE = "view_narrative"
    EDIT_NARRATIVE = "edit_narrative"
    REGISTER_NARRATIVE = "register_narrative"
    # The proofs (services/office/proof_pages.py): every role browses and downloads them; the
    # author makes them.
    VIEW_PROOFS = "view_proofs"
    MAKE_PROOFS = "make_proofs"


EVERY_ROLE = frozenset(Role)
# Action -> the roles that may take it. A viewer is in no row that changes anything.
PERMISSIONS: Mapping[Action, frozenset[Role]] = {
    Action.VIEW_BOARD: EVERY_ROLE,
    Action.SIGN_OUT: EVERY_ROLE,
    Action.MARK_BOARD_SEEN: frozenset({Role.AUTHOR, Role.APPROVER, Role.DATA_OFFICER}),
    Action.VIEW_CLOSE: EVERY_ROLE,
    Action.PROPOSE_CLOSE: frozenset({Role.AUTHOR, Role.DATA_OFFICER}),
    Action.SIGN_OFF_CLOSE: frozenset({Role.APPROVER}),
    Action.REJECT_CLOSE: frozenset({Role.APPROVER}),
    Action.WITHDRAW_CLOSE: frozenset({Role.AUTHOR, Role.DATA_OFFICER}),
    Action.VIEW_AUDIT: EVERY_ROLE,
    Action.VIEW_LETTERS: EVERY_ROLE,
    # Decisions about what the office sends: the approver's.
    Action.RELEASE_LETTER: frozenset({Role.APPROVER}),
    Action.REISSUE_LETTER: frozenset({Role.APPROVER}),
    Action.WITHDRAW_LETTER: frozenset({Role.APPROVER}),
    # A resend sends what was already decided and rendered, once more, after a delivery
    # problem: the approver's or the data officer's (who deals with what went wrong).
    Action.RESEND_LETTER: frozenset({Role.APPROVER, Role.DATA_OFFICER}),
    Action.VIEW_DEAD_LETTERS: EVERY_ROLE,
    Action.REDRIVE_DEAD_LETTERS: frozenset({Role.DATA_OFFICER}),
    Action.VIEW_NARRATIVE: EVERY_ROLE,
    Action.EDIT_NARRATIVE: frozenset({Role.AUTHOR}),
    Action.REGISTER_NARRATIVE: frozenset({Role.AUTHOR}),
    Action.VIEW_PROOFS: EVERY_ROLE,
    Action.MAKE_PROOFS: frozenset({Role.AUTHOR}),
}


def may(roles: Iterable[Role | str], action: Action) -> bool:
    allowed = PERMISSIONS[action]
    known = {r.value for r in Role}
    return any(Role(r) in allowed for r in roles if str(r) in known)


def roles_from_groups(groups: Iterable[str], mapping: Mapping[str, Role]) -> list[Role]:
    """The roles of a user in ``groups`` (the provider's groups claim), through ``mapping``;
    a group not in the mapping gives nothing."""
    found = {mapping[g] for g in groups if g in mapping}
    return sorted(found, key=list(Role).index)
