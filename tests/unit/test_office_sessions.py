"""The office workspace's sessions, cookies, return addresses and settings (no servers)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from services.office.config import OfficeSettings
from services.office.guard import safe_return
from services.office.sessions import PENDING_MAX_S, CookiePolicy, expiry, id_hash, new_id

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def ago(seconds: float) -> datetime:
    return NOW - timedelta(seconds=seconds)


def test_a_session_holds_within_both_timeouts() -> None:
    assert expiry(NOW, created_at=ago(3600), last_seen_at=ago(60), signed_in_at=ago(3600),
                  idle_s=900, absolute_s=28800) is None  # fmt: skip


def test_an_unused_session_ends_at_the_idle_timeout() -> None:
    assert expiry(NOW, created_at=ago(1000), last_seen_at=ago(901), signed_in_at=ago(1000),
                  idle_s=900, absolute_s=28800) == "idle"  # fmt: skip


def test_a_used_session_still_ends_at_the_absolute_timeout() -> None:
    assert expiry(NOW, created_at=ago(30000), last_seen_at=ago(1), signed_in_at=ago(28801),
                  idle_s=900, absolute_s=28800) == "absolute"  # fmt: skip


def test_a_pending_sign_in_never_completed_ends() -> None:
    assert expiry(NOW, created_at=ago(PENDING_MAX_S + 1), last_seen_at=ago(1), signed_in_at=None,
                  idle_s=900, absolute_s=28800) == "absolute"  # fmt: skip


def test_ids_are_random_and_long_and_stored_hashed() -> None:
    ids = {new_id() for _ in range(100)}
    assert len(ids) == 100 and all(len(i) >= 43 for i in ids)
    one = next(iter(ids))
    assert len(id_hash(one)) == 32 and one.encode() not in id_hash(one)


def test_the_production_cookie_is_secure_httponly_samesite_host_only() -> None:
    office = OfficeSettings(base_url="https://office.lgo.example")
    policy = CookiePolicy(office.cookie_name, not office.insecure_cookies, 28800)
    header = policy.set("abc").decode()
    assert header.startswith("__Host-ar_office_session=abc;")
    for flag in ("Secure", "HttpOnly", "SameSite=Lax", "Path=/"):
        assert flag in header.split("; ")
    assert "Domain" not in header
    cleared = policy.clear().decode()
    assert "Max-Age=0" in cleared and "Secure" in cleared


def test_insecure_cookies_only_for_a_loopback_http_address() -> None:
    ok = OfficeSettings(base_url="http://127.0.0.1:8090", insecure_cookies=True)
    assert ok.cookie_name == "ar_office_session"
    with pytest.raises(ValidationError, match="loopback"):
        OfficeSettings(base_url="https://office.lgo.example", insecure_cookies=True)
    with pytest.raises(ValidationError, match="loopback"):
        OfficeSettings(base_url="http://office.lgo.example", insecure_cookies=True)


def test_the_group_mapping_is_read_from_json() -> None:
    office = OfficeSettings(group_roles='{"abc-123": "approver"}')
    assert office.group_roles == {"abc-123": "approver"}
    with pytest.raises(ValidationError):
        OfficeSettings(group_roles='{"abc-123": "superuser"}')


@pytest.mark.parametrize("good", ["/", "/?year=2019-20", "/board/seen", "/a/b?c=d#e"])
def test_a_local_path_is_a_return_address(good: str) -> None:
    assert safe_return(good) == good


@pytest.mark.parametrize(
    "bad",
    [None, "", "https://evil.example/", "//evil.example", "///evil.example", "/\\evil.example",
     "\\\\evil.example", "javascript:alert(1)", "http:/evil", "evil", "/ok\r\nSet-Cookie: x",
     "/\tx", "/" + "a" * 2001],
)  # fmt: skip
def test_anything_else_is_refused(bad: str | None) -> None:
    assert safe_return(bad) is None
