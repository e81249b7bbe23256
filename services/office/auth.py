"""Sign-in and sign-out through the office's OpenID provider (Authlib's Starlette client).

Sign-in is the authorisation code flow with PKCE (S256): Authlib makes the state, the nonce
and the code verifier and keeps them in the pending session; at the callback it checks the
state, exchanges the code with the verifier and the client secret, and verifies the ID token
(signature against the provider's JWKS, issuer, audience, expiry, nonce). The groups claim
gives the roles (AR_OFFICE_GROUP_ROLES); the session gets a new id. Sign-out ends the local
session first, then sends the browser to the provider's end_session_endpoint, which ends the
provider's session and returns to /signed-out.
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any
from urllib.parse import urlencode

import httpx
import structlog
from authlib.integrations.starlette_client import OAuth, OAuthError, StarletteOAuth2App
from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from services.office.config import OfficeSettings
from services.office.guard import Refused, User, allowed, safe_return, session_of
from services.office.pages import page
from services.office.roles import Action, roles_from_groups

log = structlog.get_logger(__name__)
router = APIRouter()
NEXT_KEY = "next"


class ProviderDown(Exception):
    """The identity provider does not answer: nobody can sign in (docs/office.md)."""


def oauth_client(office: OfficeSettings, client_secret: str) -> StarletteOAuth2App:
    oauth = OAuth()
    oauth.register(
        name="office",
        client_id=office.client_id,
        client_secret=client_secret,
        server_metadata_url=office.oidc_metadata_url,
        client_kwargs={"scope": office.scope, "code_challenge_method": "S256", "timeout": 10},
    )
    client: StarletteOAuth2App = oauth.create_client("office")
    return client


def _client(request: Request) -> StarletteOAuth2App:
    client: StarletteOAuth2App = request.app.state.oauth
    return client


def _office(request: Request) -> OfficeSettings:
    office: OfficeSettings = request.app.state.office
    return office


@router.get("/sign-in")
async def sign_in(request: Request, next: str = "/") -> Response:
    return_to = safe_return(next)
    if return_to is None:
        log.warning("return address refused", length=len(next))
        raise Refused(400, "That return address is not a page of this workspace.")
    session = session_of(request)
    session.data.clear()  # whatever was pending: a new sign-in starts afresh
    session.data[NEXT_KEY] = return_to
    try:
        redirect: Response = await _client(request).authorize_redirect(
            request, _office(request).redirect_uri
        )
    except (httpx.HTTPError, OSError, ValueError) as e:
        session.data.clear()
        raise ProviderDown(str(e)) from e
    return redirect


@router.get("/auth/callback")
async def callback(request: Request) -> Response:
    session = session_of(request)
    if "error" in request.query_params:
        session.sign_out()
        raise Refused(400, "The sign-in service did not sign you in. Try signing in again.")
    try:
        token: dict[str, Any] = await _client(request).authorize_access_token(request)
    except OAuthError as e:
        # A wrong or replayed state, a bad code, an ID token that does not verify.
        log.warning("sign-in refused", error=e.error)
        session.sign_out()
        raise Refused(400, "This sign-in could not be completed. Try signing in again.") from e
    except (httpx.HTTPError, OSError) as e:
        raise ProviderDown(str(e)) from e
    claims = token.get("userinfo") or {}
    office = _office(request)
    groups = claims.get(office.groups_claim) or []
    roles = roles_from_groups([str(g) for g in groups], office.group_roles)
    if not roles:
        log.warning("sign-in without a role", sub=claims.get("sub"))
        session.sign_out()
        raise Refused(
            403,
            "Your account is in none of the workspace's groups, so it has no role here. "
            "Ask the workspace's administrator to add you to one.",
        )
    return_to = safe_return(session.data.get(NEXT_KEY)) or "/"
    session.sign_in(
        {
            "sub": claims["sub"],
            "name": claims.get("name") or claims.get("preferred_username") or claims["sub"],
            "roles": [r.value for r in roles],
            "id_token": token.get("id_token"),
            "csrf": secrets.token_urlsafe(32),
        }
    )
    log.info("signed in", sub=claims["sub"], roles=[r.value for r in roles])
    # Sessions nobody came back to are deleted when they are next seen, or here.
    await request.app.state.sessions.delete_expired(
        office.session_idle_s, office.session_absolute_s
    )
    return RedirectResponse(return_to, status_code=303)


@router.post("/sign-out")
async def sign_out(
    request: Request, user: Annotated[User, Depends(allowed(Action.SIGN_OUT))]
) -> Response:
    session = session_of(request)
    id_token = session.data.get("id_token")
    session.sign_out()
    log.info("signed out", sub=user.subject)
    office = _office(request)
    try:
        metadata = await _client(request).load_server_metadata()
    except (httpx.HTTPError, OSError, ValueError):
        # Signed out here; the provider's own session stays until it times out.
        return RedirectResponse("/signed-out?provider=unreachable", status_code=303)
    endpoint = metadata.get("end_session_endpoint")
    if not endpoint:
        return RedirectResponse("/signed-out", status_code=303)
    query = {"client_id": office.client_id, "post_logout_redirect_uri": office.signed_out_uri}
    if id_token:
        query["id_token_hint"] = id_token
    return RedirectResponse(f"{endpoint}?{urlencode(query)}", status_code=303)


@router.get("/signed-out")
async def signed_out(request: Request, provider: str | None = None) -> Response:
    return page(
        request,
        "signed_out.html.j2",
        {"provider_unreachable": provider == "unreachable"},
        title="You have signed out",
    )
