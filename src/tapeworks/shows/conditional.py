"""Conditional requests for the public routes: ETag / Last-Modified, 304, HEAD.

Feed readers poll feeds every few minutes with ``If-None-Match`` or
``If-Modified-Since``; answering those from a validator computed without building the
document is what keeps polling cheap. ``If-None-Match`` wins over ``If-Modified-Since``
(RFC 9110 13.2.2). Weak comparison is used for ``If-None-Match``, as the RFC asks.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime

from tapeworks.http.conditional import etag_of, not_modified

__all__ = ["etag_of", "http_date", "not_modified", "validator_headers"]


def http_date(when: datetime) -> str:
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return format_datetime(when.astimezone(UTC).replace(microsecond=0), usegmt=True)


def validator_headers(etag: str, last_modified: datetime | None,
                      cache_control: str) -> dict[str, str]:
    out = {"ETag": etag, "Cache-Control": cache_control}
    if last_modified is not None:
        out["Last-Modified"] = http_date(last_modified)
    return out
