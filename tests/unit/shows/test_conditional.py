"""Validators for the public routes: ETag / Last-Modified and when a 304 is due."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tapeworks.shows.conditional import etag_of, http_date, not_modified, validator_headers

WHEN = datetime(2026, 6, 2, 14, 0, 0, 500_000, tzinfo=UTC)


def test_etag_is_quoted_and_follows_its_parts() -> None:
    a = etag_of("show", 1, WHEN)
    assert a.startswith('"') and a.endswith('"') and len(a) == 34
    assert a == etag_of("show", 1, WHEN)
    assert a != etag_of("show", 2, WHEN) and a != etag_of("show", 1, WHEN + timedelta(seconds=1))
    assert etag_of("ab", "c") != etag_of("a", "bc")


def test_if_none_match_decides_before_if_modified_since() -> None:
    tag = etag_of("x")
    assert not_modified({"if-none-match": tag}, tag, WHEN)
    assert not_modified({"if-none-match": f'"other", W/{tag}'}, tag, WHEN)
    assert not_modified({"if-none-match": "*"}, tag, None)
    # a stale tag is a full answer even when the date would match
    assert not not_modified({"if-none-match": '"other"', "if-modified-since": http_date(WHEN)},
                            tag, WHEN)


def test_if_modified_since_compares_whole_seconds() -> None:
    tag = etag_of("x")
    assert not_modified({"if-modified-since": http_date(WHEN)}, tag, WHEN)
    assert not_modified({"if-modified-since": http_date(WHEN + timedelta(hours=1))}, tag, WHEN)
    assert not not_modified({"if-modified-since": http_date(WHEN - timedelta(seconds=1))},
                            tag, WHEN)
    assert not not_modified({"if-modified-since": "yesterday-ish"}, tag, WHEN)
    assert not not_modified({}, tag, WHEN)


def test_validator_headers() -> None:
    h = validator_headers('"t"', WHEN, "public, max-age=300")
    assert h == {"ETag": '"t"', "Cache-Control": "public, max-age=300",
                 "Last-Modified": "Tue, 02 Jun 2026 14:00:00 GMT"}
