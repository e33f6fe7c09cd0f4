"""Conditional requests: strong ETags, `If-None-Match` / `If-Modified-Since`, and 304s.

Pollers (status pages, scripts) and feed readers ask again and again for something that
rarely changes; answering from a validator without sending the body again is what keeps
that cheap. ``If-None-Match`` wins over ``If-Modified-Since`` (RFC 9110 13.2.2); weak
comparison is used for ``If-None-Match``, as the RFC asks.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from fastapi import Request, Response


def etag_of(*parts: object) -> str:
    """A strong ETag (quoted) from the parts that decide a representation."""
    h = hashlib.sha256()
    for part in parts:
        h.update(repr(part).encode("utf-8", "surrogatepass"))
        h.update(b"\x1f")
    return f'"{h.hexdigest()[:32]}"'


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


def json_with_etag(request: Request, model: Any, *, cache_control: str = "private, no-cache") -> Response:
    """`model` as JSON with a strong ETag of its bytes; a 304 without a body when the
    client's `If-None-Match` already names it."""
    body = model.model_dump_json().encode()
    etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
    headers = {"ETag": etag, "Cache-Control": cache_control}
    if not_modified(request.headers, etag, None):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)
