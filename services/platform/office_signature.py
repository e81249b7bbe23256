"""The office's signature: what only the Ombudsman's office may state, it signs.

A Kafka broker tells a consumer nothing about who wrote a record, and the case management
system's principal (``cms``) may write the facts topic, where the year-end close and the
council register travel too. So the office's publisher signs every one of those events
(``OFFICE_EVENTS``) with an Ed25519 key only the operator's processes can read, over the
record's value bytes, in the ``office-signature`` header: ``<key id>:<base64 signature>``.
The projector holds public keys only, several at once (rotation; the office workspace),
and refuses an office event whose signature is missing or does not verify
(``Reason.NOT_AUTHORISED``). The key id is the first 16 hex digits of the SHA-256 of the
raw public key: a name the verifier can look up, derived, so it cannot disagree with the key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from contracts.codec import Reason, RejectedMessage
from contracts.envelope import Envelope
from contracts.events import OFFICE_EVENTS, Payload
from contracts.topics import HEADER_OFFICE_SIGNATURE
from services.platform.settings import Settings

# The key files `infra/ctl.sh secrets` writes into the secrets folder (docs/security.md).
PRIVATE_KEY_FILE = "office-signing.key"
PUBLIC_KEY_FILE = "office-signing.pub"
# The principals that act for the office: only their processes look for the private key in
# the secrets folder (a development machine keeps every principal's secrets in one folder).
# The workspace (principal ``office``) signs the closes its approvers signed off.
OFFICE_PRINCIPALS = frozenset({"operator", "admin", "office"})


class MissingOfficeKey(RuntimeError):
    """An office event to publish, and no office key to sign it with."""


def is_office_event(event: Envelope[Payload]) -> bool:
    return isinstance(event.data, OFFICE_EVENTS)


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class OfficeSigner:
    """Signs a record's value bytes with the office's private key."""

    key: Ed25519PrivateKey

    @property
    def key_id(self) -> str:
        return key_id(self.key.public_key())

    def header(self, value: bytes) -> tuple[str, bytes]:
        signature = base64.b64encode(self.key.sign(value)).decode()
        return HEADER_OFFICE_SIGNATURE, f"{self.key_id}:{signature}".encode()

    @classmethod
    def from_pem(cls, pem: bytes) -> OfficeSigner:
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("the office signing key must be an Ed25519 private key (PEM)")
        return cls(key)


class OfficeAuthority:
    """The projector's check: an office event counts only with a signature by a trusted key."""

    def __init__(self, keys: Iterable[Ed25519PublicKey]) -> None:
        self._keys: Mapping[str, Ed25519PublicKey] = {key_id(k): k for k in keys}

    @property
    def key_ids(self) -> list[str]:
        return sorted(self._keys)

    @classmethod
    def from_pems(cls, pems: Iterable[bytes]) -> OfficeAuthority:
        keys = []
        for pem in pems:
            key = serialization.load_pem_public_key(pem)
            if not isinstance(key, Ed25519PublicKey):
                raise ValueError("an office public key must be an Ed25519 public key (PEM)")
            keys.append(key)
        return cls(keys)

    def check(
        self,
        event: Envelope[Payload],
        value: bytes | None,
        headers: Sequence[tuple[str, bytes]] | None,
    ) -> None:
        """Nothing for casework; for an office event, raise ``RejectedMessage``
        (``not_authorised``) unless its header's signature of ``value`` verifies."""
        if not is_office_event(event):
            return
        problem = self._problem(value or b"", headers or ())
        if problem is not None:
            raise RejectedMessage(
                Reason.NOT_AUTHORISED,
                f"{event.type} may be stated only by the Ombudsman's office: {problem}",
                event_id=str(event.event_id),
                event_type=event.type,
                council=event.council,
            )

    def _problem(self, value: bytes, headers: Sequence[tuple[str, bytes]]) -> str | None:
        found = [v for k, v in headers if k == HEADER_OFFICE_SIGNATURE]
        if not found:
            return f"no {HEADER_OFFICE_SIGNATURE} header"
        if len(found) > 1:
            return f"{len(found)} {HEADER_OFFICE_SIGNATURE} headers (one expected)"
        try:
            kid, _, encoded = found[0].decode("ascii").partition(":")
            signature = base64.b64decode(encoded, validate=True)
        except (UnicodeDecodeError, binascii.Error):
            return f"the {HEADER_OFFICE_SIGNATURE} header is not '<key id>:<base64>'"
        key = self._keys.get(kid)
        if key is None:
            trusted = ", ".join(self.key_ids) or "none"
            return f"signed with key {kid[:32]!r}, not a trusted office key (trusted: {trusted})"
        try:
            key.verify(signature, value)
        except InvalidSignature:
            return f"the signature by key {kid} does not verify: the message is not as signed"
        return None


def office_signer(settings: Settings) -> OfficeSigner | None:
    """The office's signer: AR_OFFICE_SIGNING_KEY_FILE, else (for the office's principals)
    the key in the secrets folder when it is there; None without one."""
    path = settings.office_signing_key_file
    office = settings.principal is None or settings.principal in OFFICE_PRINCIPALS
    if path is None and settings.secrets_dir is not None and office:
        candidate = settings.secrets_dir / PRIVATE_KEY_FILE
        path = candidate if candidate.is_file() else None
    if path is None:
        return None
    return OfficeSigner.from_pem(_read(path, "office signing key"))


def office_authority(settings: Settings) -> OfficeAuthority:
    """The keys the projector trusts: AR_OFFICE_PUBLIC_KEY_FILES, else the public key in
    the secrets folder. None at all: every office event is refused (fail closed)."""
    paths: list[Path] = list(settings.office_public_key_files)
    if not paths and settings.secrets_dir is not None:
        candidate = settings.secrets_dir / PUBLIC_KEY_FILE
        if candidate.is_file():
            paths = [candidate]
    return OfficeAuthority.from_pems(_read(p, "office public key") for p in paths)


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read the {what} {path}: {exc.strerror}") from None
