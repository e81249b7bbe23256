"""The office workspace's roles: the action table, the groups claim, and every route
checked on the server (the route matrix reads roles.PERMISSIONS)."""

from __future__ import annotations

import pytest
from fastapi.routing import APIRoute

from services.office import (
    auth,
    close_pages,
    dead_letter_pages,
    letters_pages,
    narrative_pages,
    pages,
    proof_pages,
)
from services.office.config import DEFAULT_GROUP_ROLES
from services.office.roles import PERMISSIONS, Action, Role, may, roles_from_groups

# Routes reachable without a signed-in user, and why.
PUBLIC = {
    "/sign-in": "starts a sign-in",
    "/auth/callback": "ends one (the state, the code and the ID token are checked)",
    "/signed-out": "says the user has signed out",
}


def test_every_action_has_a_row_and_a_viewer_changes_nothing() -> None:
    assert set(PERMISSIONS) == set(Action)
    read_only = {
        Action.VIEW_BOARD, Action.SIGN_OUT, Action.VIEW_CLOSE, Action.VIEW_AUDIT,
        Action.VIEW_LETTERS, Action.VIEW_DEAD_LETTERS, Action.VIEW_NARRATIVE, Action.VIEW_PROOFS,
    }  # fmt: skip
    for action, roles in PERMISSIONS.items():
        assert (Role.VIEWER in roles) == (action in read_only), action


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("action", list(Action))
def test_may_follows_the_table(role: Role, action: Action) -> None:
    assert may([role], action) == (role in PERMISSIONS[action])
    assert may([role.value], action) == (role in PERMISSIONS[action])


def test_no_role_may_do_nothing_and_an_unknown_role_is_ignored() -> None:
    assert not may([], Action.VIEW_BOARD)
    assert not may(["superuser"], Action.VIEW_BOARD)


def test_groups_map_to_roles_and_unknown_groups_give_none() -> None:
    groups = ["annual-review-approvers", "annual-review-viewers", "finance", "Domain Users"]
    assert roles_from_groups(groups, DEFAULT_GROUP_ROLES) == [Role.APPROVER, Role.VIEWER]
    assert roles_from_groups(["finance"], DEFAULT_GROUP_ROLES) == []
    # Entra ID sends group object ids: the mapping is by whatever the claim holds.
    entra = {"5f1c-guid": Role.DATA_OFFICER}
    assert roles_from_groups(["5f1c-guid"], entra) == [Role.DATA_OFFICER]


def test_every_route_names_its_action_except_the_sign_in_pages() -> None:
    routers = (
        pages.router, auth.router, close_pages.router, letters_pages.router,
        dead_letter_pages.router, narrative_pages.router, proof_pages.router,
    )  # fmt: skip
    routes = [r for router in routers for r in router.routes]
    seen = set()
    for route in routes:
        assert isinstance(route, APIRoute)
        actions = [getattr(d.call, "office_action", None) for d in route.dependant.dependencies]
        actions = [a for a in actions if a is not None]
        if route.path in PUBLIC:
            assert actions == [], route.path
            continue
        assert len(actions) == 1, f"{route.path} is not checked for a role on the server"
        seen.add(actions[0])
        if (route.methods or set()) - {"GET", "HEAD"}:
            assert actions[0] in PERMISSIONS  # guard.allowed checks the CSRF token of these
    assert set(PUBLIC) <= {r.path for r in routes if isinstance(r, APIRoute)}
    assert seen == set(Action)  # every action in the table is used by a route
