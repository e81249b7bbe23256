"""Conditional requests and the security headers, without a server."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request

from services.web.http import etag_of, not_modified, respond


def _request(headers: dict[str, str]) -> Request:
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    return Request(
        {"type": "http", "method": "GET", "path": "/", "headers": raw, "query_string": b""}
    )


WHEN = datetime(2020, 7, 29, 0, 0, 5, tzinfo=UTC)


def test_if_none_match_wins_over_if_modified_since() -> None:
    tag = etag_of(b"page")
    assert not_modified(_request({"If-None-Match": tag}), tag, WHEN)
    assert not_modified(_request({"If-None-Match": f'"x", W/{tag}'}), tag, WHEN)
    stale = {"If-None-Match": '"x"', "If-Modified-Since": "Thu, 01 Jan 2030 00:00:00 GMT"}
    assert not not_modified(_request(stale), tag, WHEN)


def test_if_modified_since_compares_whole_seconds() -> None:
    assert not_modified(
        _request({"If-Modified-Since": "Wed, 29 Jul 2020 00:00:05 GMT"}), '"t"', WHEN
    )
    assert not not_modified(
        _request({"If-Modified-Since": "Wed, 29 Jul 2020 00:00:04 GMT"}), '"t"', WHEN
    )
    assert not not_modified(_request({"If-Modified-Since": "yesterday"}), '"t"', WHEN)


def test_a_current_copy_gets_304_with_the_validators() -> None:
    body = b"<p>figures</p>"
    response = respond(
        _request({"If-None-Match": etag_of(body)}), body, "text/html", last_modified=WHEN
    )
    assert response.status_code == 304 and response.body == b""
    assert response.headers["last-modified"] == "Wed, 29 Jul 2020 00:00:05 GMT"
    full = respond(_request({}), body, "text/html", last_modified=WHEN)
    assert full.status_code == 200 and full.body == body and full.headers["etag"] == etag_of(body)
