"""Conditional requests for the public routes: ETag / Last-Modified, 304, HEAD.

Feed readers poll feeds every few minutes with ``If-None-Match`` or
``If-Modified-Since``; answering those from a validator computed without building the
document is what keeps polling cheap. ``If-None-Match`` wins over ``If-Modified-Since``
(RFC 9110 13.2.2). Weak comparison is used for ``If-None-Match``, as the RFC asks.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime


def etag_of(*parts: object) -> str:
    """A strong ETag (quoted) from the parts that decide a representation."""
    h = hashlib.sha256()
    for part in parts:
        h.update(repr(part).encode("utf-8", "surrogatepass"))
        h.update(b"\x1f")
    return f'"{h.hexdigest()[:32]}"'


def http_date(when: datetime) -> str:
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return format_datetime(when.astimezone(UTC).replace(microsecond=0), usegmt=True)


def _tags(header: str) -> Iterable[str]:
    for raw in header.split(","):
        tag = raw.strip()
        if tag.startswith("W/"):
            tag = tag[2:]
        if tag:
            yield tag


def not_modified(headers: Mapping[str, str], etag: str,
                 last_modified: datetime | None) -> bool:
    """True when the request's validators say the client's copy is current (``headers``
    with lower-case names, as Starlette's are)."""
    get = headers.get
    inm = get("if-none-match")
    if inm is not None:
        return any(t == "*" or t == etag for t in _tags(inm))
    ims = get("if-modified-since")
    if ims and last_modified is not None:
        try:
            since = parsedate_to_datetime(ims)
        except (TypeError, ValueError, IndexError):
            return False
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        lm = last_modified if last_modified.tzinfo else last_modified.replace(tzinfo=UTC)
        return lm.replace(microsecond=0) <= since
    return False


def validator_headers(etag: str, last_modified: datetime | None,
                      cache_control: str) -> dict[str, str]:
    out = {"ETag": etag, "Cache-Control": cache_control}
    if last_modified is not None:
        out["Last-Modified"] = http_date(last_modified)
    return out
