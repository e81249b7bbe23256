"""The office's signature: an office event counts only when a trusted key signed its bytes."""

from __future__ import annotations

import asyncio
import base64
import os
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from contracts.codec import Reason, RejectedMessage, decode, encode
from contracts.envelope import Envelope, new_event
from contracts.events import OFFICE_EVENTS, Payload
from contracts.examples import examples
from contracts.topics import HEADER_OFFICE_SIGNATURE, HEADERS
from services.platform.kafka.publisher import EventPublisher
from services.platform.office_signature import (
    MissingOfficeKey,
    OfficeAuthority,
    OfficeSigner,
    key_id,
    office_authority,
    office_signer,
)
from services.platform.settings import Settings
from services.projector.redrive import redrive

OFFICE = OfficeSigner(Ed25519PrivateKey.generate())
OTHER = OfficeSigner(Ed25519PrivateKey.generate())
TRUSTED = OfficeAuthority([OFFICE.key.public_key()])


def close_event() -> tuple[Envelope[Payload], bytes]:
    """A close as the office's publisher encodes it (the contract's example, six partitions)."""
    data = examples()["FinancialYearClosed"].data.model_copy(update={"partition_count": 6})
    event: Envelope[Payload] = new_event(data, council=None, producer="test")
    raw = encode(event)
    return decode(raw), raw


def refusal(event: Envelope[Payload], raw: bytes, headers: list[tuple[str, bytes]]) -> str:
    with pytest.raises(RejectedMessage) as caught:
        TRUSTED.check(event, raw, headers)
    assert caught.value.reason is Reason.NOT_AUTHORISED
    assert caught.value.event_type == "FinancialYearClosed"
    return caught.value.detail


def test_a_close_signed_by_the_office_passes() -> None:
    event, raw = close_event()
    TRUSTED.check(event, raw, [("event-type", b"FinancialYearClosed"), OFFICE.header(raw)])


def test_the_header_is_key_id_colon_base64_and_is_documented() -> None:
    _, raw = close_event()
    name, value = OFFICE.header(raw)
    kid, _, sig = value.decode().partition(":")
    assert name == HEADER_OFFICE_SIGNATURE and name in HEADERS
    assert kid == key_id(OFFICE.key.public_key()) and len(kid) == 16
    assert len(base64.b64decode(sig, validate=True)) == 64  # an Ed25519 signature


def test_a_missing_signature_is_refused() -> None:
    event, raw = close_event()
    assert "no office-signature header" in refusal(event, raw, [])


def test_a_signature_by_another_key_is_refused_naming_the_trusted_ones() -> None:
    event, raw = close_event()
    detail = refusal(event, raw, [OTHER.header(raw)])
    assert OTHER.key_id in detail and "not a trusted office key" in detail
    assert OFFICE.key_id in detail


def test_a_trusted_key_id_with_another_keys_signature_is_refused() -> None:
    event, raw = close_event()
    forged = f"{OFFICE.key_id}:{OTHER.header(raw)[1].decode().partition(':')[2]}".encode()
    assert "does not verify" in refusal(event, raw, [(HEADER_OFFICE_SIGNATURE, forged)])


def test_tampered_bytes_are_refused() -> None:
    _, raw = close_event()
    header = OFFICE.header(raw)
    tampered = raw.replace(b'"partition_count":6', b'"partition_count":1')
    assert tampered != raw
    assert "does not verify" in refusal(decode(tampered), tampered, [header])


@pytest.mark.parametrize(
    "value", [b"", b"no-colon", b"abc:not base64!", b"\xff\xfe:AAAA", b"deadbeefdeadbeef:"]
)
def test_a_malformed_header_is_refused(value: bytes) -> None:
    event, raw = close_event()
    refusal(event, raw, [(HEADER_OFFICE_SIGNATURE, value)])


def test_two_signature_headers_are_refused_even_if_one_verifies() -> None:
    event, raw = close_event()
    assert "one expected" in refusal(event, raw, [OFFICE.header(raw), OTHER.header(raw)])


def test_no_trusted_key_refuses_every_office_event_and_no_casework() -> None:
    event, raw = close_event()
    with pytest.raises(RejectedMessage, match="trusted: none"):
        OfficeAuthority([]).check(event, raw, [OFFICE.header(raw)])
    casework = examples()["DecisionRecorded"]
    OfficeAuthority([]).check(casework, encode(casework), [])


@pytest.mark.parametrize("event_type", sorted(t.__name__ for t in OFFICE_EVENTS))
def test_every_office_event_type_needs_the_signature(event_type: str) -> None:
    event = examples()[event_type]
    raw = encode(event)
    with pytest.raises(RejectedMessage) as caught:
        TRUSTED.check(event, raw, [])
    assert caught.value.reason is Reason.NOT_AUTHORISED
    TRUSTED.check(event, raw, [OFFICE.header(raw)])


def test_several_trusted_keys_for_rotation() -> None:
    event, raw = close_event()
    both = OfficeAuthority([OFFICE.key.public_key(), OTHER.key.public_key()])
    both.check(event, raw, [OFFICE.header(raw)])
    both.check(event, raw, [OTHER.header(raw)])


def write_keys(folder: Path, signer: OfficeSigner) -> None:
    folder.mkdir(exist_ok=True)
    (folder / "office-signing.key").write_bytes(
        signer.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    (folder / "office-signing.pub").write_bytes(
        signer.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def test_keys_from_the_secrets_folder_only_for_the_offices_principals(tmp_path: Path) -> None:
    write_keys(tmp_path, OFFICE)
    for name in ("operator", "admin", "cms", "projector"):
        (tmp_path / f"kafka-{name}.password").write_text("pw")
    (tmp_path / "pg-ar_operator.password").write_text("pw")
    (tmp_path / "pg-annual_review.password").write_text("pw")
    (tmp_path / "pg-ar_projector.password").write_text("pw")

    def signer_of(principal: str) -> OfficeSigner | None:
        return office_signer(Settings(principal=principal, secrets_dir=tmp_path))

    assert signer_of("operator") is not None and signer_of("admin") is not None
    assert signer_of("cms") is None and signer_of("projector") is None
    authority = office_authority(Settings(principal="projector", secrets_dir=tmp_path))
    assert authority.key_ids == [OFFICE.key_id]


def test_public_key_files_setting_lists_several(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_keys(tmp_path / "a", OFFICE)
    write_keys(tmp_path / "b", OTHER)
    monkeypatch.setenv(
        "AR_OFFICE_PUBLIC_KEY_FILES",
        f"{tmp_path / 'a' / 'office-signing.pub'}, {tmp_path / 'b' / 'office-signing.pub'}",
    )
    assert office_authority(Settings()).key_ids == sorted([OFFICE.key_id, OTHER.key_id])
    monkeypatch.setenv("AR_OFFICE_PUBLIC_KEY_FILES", str(tmp_path / "a" / "office-signing.key"))
    with pytest.raises(ValueError):  # a private key where a public key belongs
        office_authority(Settings())


def test_the_publisher_refuses_an_office_event_without_the_key() -> None:
    """Refused before anything is sent: no broker is needed (nor reachable) here."""

    async def attempt() -> None:
        publisher = EventPublisher("127.0.0.1:1", signer=None)
        register = examples()["CouncilRegistered"]
        with pytest.raises(MissingOfficeKey, match="only by the Ombudsman's office"):
            await publisher.publish(register)
        with pytest.raises(MissingOfficeKey):
            await publisher.close_year({"financial_year": "2019-20"}, producer="t")

    asyncio.run(attempt())


class _Conn:
    """Just enough of a connection for ``redrive``: one dead letter, locked."""

    def __init__(self, row: dict[str, Any]) -> None:
        self.row = row

    async def fetchval(self, *_: Any) -> str:
        return "rm_v1"

    async def fetchrow(self, *_: Any) -> dict[str, Any]:
        return self.row

    def transaction(self) -> Any:
        class _Tx:
            async def __aenter__(self) -> None: ...
            async def __aexit__(self, *_: Any) -> None: ...

        return _Tx()


class _Publisher:
    def __init__(self) -> None:
        self.sent: list[bytes] = []

    async def publish_raw(self, value: bytes, **_: Any) -> Any:
        self.sent.append(value)
        raise AssertionError("a refused office event must not be republished")


@pytest.mark.parametrize(
    ("reason", "event_type"),
    [("not_authorised", "CouncilDetailsChanged"), ("invalid_data", "FinancialYearClosed")],
)
def test_redrive_never_republishes_an_office_event(reason: str, event_type: str) -> None:
    row = {"id": 1, "status": "open", "reason": reason, "event_type": event_type,
           "topic": "t", "partition": 0, "offset": 3, "key": None, "value": b"{}"}  # fmt: skip
    publisher = _Publisher()
    with pytest.raises(ValueError, match="cannot be re-driven"):
        asyncio.run(redrive(_Conn(row), publisher, [1], "try"))
    assert publisher.sent == []


def test_the_cli_refuses_to_publish_a_register_as_the_case_system_and_sends_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`annual-review publish` as ``cms``: refused before any connection (the bootstrap
    here answers nothing), even with the office's key in the same secrets folder."""
    from typer.testing import CliRunner

    from services.cli.main import app
    from services.platform.settings import get_settings

    write_keys(tmp_path, OFFICE)
    (tmp_path / "kafka-cms.password").write_text("pw")
    events = tmp_path / "events.jsonl"
    lines = [encode(examples()["DecisionRecorded"]), encode(examples()["CouncilDetailsChanged"])]
    events.write_bytes(b"\n".join(lines) + b"\n")
    for name in [n for n in os.environ if n.startswith("AR_")]:
        monkeypatch.delenv(name)
    env = {"AR_PRINCIPAL": "cms", "AR_SECRETS_DIR": str(tmp_path),
           "AR_KAFKA_BOOTSTRAP": "127.0.0.1:1", "COLUMNS": "200"}  # fmt: skip
    get_settings.cache_clear()
    try:
        done = CliRunner().invoke(app, ["publish", str(events)], env=env)
    finally:
        get_settings.cache_clear()
    assert done.exit_code == 1, done.output
    assert "CouncilDetailsChanged" in done.output
    assert "only the Ombudsman's office" in done.output
    assert "nothing was published" in done.output


def test_the_read_models_name_the_reason_as_the_codec_does() -> None:
    """Holds and the snapshot's dead-letter counts leave not_authorised dead letters out by
    the reason's literal value in SQL: it must be the codec's."""
    root = Path(__file__).resolve().parents[2] / "services" / "readmodel"
    for name in ("letter_reads.py", "snapshots.py", "council_figures.py"):
        assert f"reason <> '{Reason.NOT_AUTHORISED.value}'" in (root / name).read_text(), name
