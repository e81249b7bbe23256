"""Office workspace settings (environment, prefix ``AR_OFFICE_``)."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from services.office.roles import Role

# The groups of the local Keycloak realm (infra/keycloak/realm.json). With Microsoft Entra
# ID the groups claim holds the groups' object ids: map those instead (docs/office.md).
DEFAULT_GROUP_ROLES: dict[str, Role] = {
    "annual-review-authors": Role.AUTHOR,
    "annual-review-approvers": Role.APPROVER,
    "annual-review-data-officers": Role.DATA_OFFICER,
    "annual-review-viewers": Role.VIEWER,
}
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


class OfficeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AR_OFFICE_", extra="ignore", frozen=True)

    host: str = Field(
        default="127.0.0.1",
        description="Address the workspace listens on: loopback by default; behind the "
        "reverse proxy that ends TLS in production (docs/office.md)",
    )
    port: int = Field(default=8090, ge=1, le=65535, description="Port the workspace listens on")
    base_url: str = Field(
        default="http://127.0.0.1:8090",
        pattern=r"^https?://[^\s/?#]+$",
        description="The workspace's address as the staff's browsers see it (https:// in "
        "production): the sign-in callback is <base_url>/auth/callback",
    )
    oidc_metadata_url: str = Field(
        default="http://127.0.0.1:18080/realms/annual-review-office/.well-known/openid-configuration",
        pattern=r"^https?://\S+$",
        description="The identity provider's OpenID discovery document (Entra ID: "
        "https://login.microsoftonline.com/<tenant>/v2.0/.well-known/openid-configuration)",
    )
    client_id: str = Field(default="office-workspace", min_length=1, description="OpenID client id")
    client_secret: SecretStr | None = Field(
        default=None,
        description="OpenID client secret (prefer AR_OFFICE_CLIENT_SECRET_FILE)",
    )
    client_secret_file: Path | None = Field(
        default=None,
        description="File holding the client secret; default with AR_SECRETS_DIR: "
        "keycloak-office-client.password there",
    )
    scope: str = Field(default="openid profile email", description="Scopes asked at sign-in")
    group_roles: Annotated[dict[str, Role], NoDecode] = Field(
        default_factory=lambda: dict(DEFAULT_GROUP_ROLES),
        description="JSON object: the provider's group (name or object id) -> role (author, "
        "approver, data_officer, viewer). A user in no mapped group cannot sign in",
    )
    groups_claim: str = Field(default="groups", description="The ID token's claim of groups")
    session_idle_s: int = Field(
        default=900, ge=30, description="A session unused this long ends (sign in again)"
    )
    session_absolute_s: int = Field(
        default=8 * 3600, ge=60, description="A session ends this long after sign-in, used or not"
    )
    insecure_cookies: bool = Field(
        default=False,
        description="Send the session cookie without Secure, for plain HTTP on loopback "
        "(tests, `make demo`) only: refused unless base_url is a loopback http:// address",
    )
    pool_max: int = Field(default=4, ge=1, description="Database connections of the workspace")
    approver_emails: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="JSON list: the approvers' e-mail addresses, told when a close waits for "
        "their sign-off (sent through the letters' SMTP settings); empty: nobody is e-mailed",
    )
    mail_sender: str = Field(
        default="Annual Review office workspace <annual.review@lgo.example>",
        description="From of the workspace's e-mails to the approvers",
    )
    proofs_dir: Path = Field(
        default=Path("out/office/proofs"),
        description="Where the workspace's proofs jobs write the year's proofs (a folder per "
        "job: <financial year>/<job>/<council>/letter.pdf ...), and read them back",
    )

    @field_validator("group_roles", "approver_emails", mode="before")
    @classmethod
    def _json(cls, v: object) -> object:
        if isinstance(v, str):
            return json.loads(v)
        return v

    @model_validator(mode="after")
    def _insecure_only_on_loopback(self) -> OfficeSettings:
        if self.insecure_cookies:
            loopback = self.host_of_base_url in LOOPBACK_HOSTS
            if not self.base_url.startswith("http://") or not loopback:
                raise ValueError(
                    "AR_OFFICE_INSECURE_COOKIES is for a loopback http:// address only "
                    f"(base_url is {self.base_url}): in production TLS ends at the reverse "
                    "proxy and the cookie is Secure"
                )
        return self

    @property
    def host_of_base_url(self) -> str:
        return urlsplit(self.base_url).hostname or ""

    @property
    def redirect_uri(self) -> str:
        return f"{self.base_url}/auth/callback"

    @property
    def signed_out_uri(self) -> str:
        return f"{self.base_url}/signed-out"

    @property
    def cookie_name(self) -> str:
        # __Host-: the browser keeps it only if Secure, for this host, path /, no Domain.
        return "ar_office_session" if self.insecure_cookies else "__Host-ar_office_session"

    def secret(self, secrets_dir: Path | None) -> str:
        """The client secret: the setting, its file, or the local Keycloak's in the secrets
        directory; raises ``ValueError`` when none is given."""
        if self.client_secret is not None:
            return self.client_secret.get_secret_value()
        path = self.client_secret_file
        if path is None and secrets_dir is not None:
            path = secrets_dir / "keycloak-office-client.password"
        if path is None or not path.is_file():
            raise ValueError(
                "no OpenID client secret: set AR_OFFICE_CLIENT_SECRET_FILE (or AR_SECRETS_DIR "
                "with keycloak-office-client.password in it)"
            )
        return path.read_text().strip()


@functools.lru_cache(maxsize=1)
def get_office_settings() -> OfficeSettings:
    return OfficeSettings()
