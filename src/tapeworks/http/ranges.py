"""HTTP helpers shared by the API and the pages: byte ranges from the object store."""

from __future__ import annotations

import mimetypes
import re
import unicodedata
from urllib.parse import quote

from fastapi.responses import StreamingResponse

from tapeworks.errors import RangeNotSatisfiable
from tapeworks.http.inputs import clean_text
from tapeworks.storage.base import Store

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")

AUDIO_TYPES = {
    "mp3": "audio/mpeg", "wav": "audio/wav", "flac": "audio/flac", "ogg": "audio/ogg",
    "opus": "audio/ogg", "m4a": "audio/mp4", "mp4": "audio/mp4", "aac": "audio/aac",
    "webm": "audio/webm",
}


def media_type_for(key: str) -> str:
    ext = key.rsplit(".", 1)[-1].lower()
    return AUDIO_TYPES.get(ext) or mimetypes.guess_type(key)[0] or "application/octet-stream"


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(start, end_inclusive) for a single-range header, None for a full response."""
    if not header:
        return None
    m = _RANGE.match(header.strip())
    if m is None or (not m.group(1) and not m.group(2)):
        raise RangeNotSatisfiable(f"unsupported Range header {header!r}; use bytes=START-END",
                                  details={"size": size})
    if not m.group(1):  # suffix: last N bytes
        n = int(m.group(2))
        if n == 0:
            raise RangeNotSatisfiable("empty suffix range", details={"size": size})
        return max(0, size - n), size - 1
    start = int(m.group(1))
    end = int(m.group(2)) if m.group(2) else size - 1
    if start >= size or end < start:
        raise RangeNotSatisfiable(f"range {header!r} is outside the {size} bytes of the file",
                                  details={"size": size})
    return start, min(end, size - 1)


# RFC 5987 attr-char: what may stand unescaped in `filename*`.
_ATTR_CHARS = "!#$&+-.^_`|~"


def content_disposition(filename: str, inline: bool = True) -> str:
    """`Content-Disposition` for a download named `filename` (RFC 6266): an ASCII
    `filename` fallback for old clients and the exact name as UTF-8 in `filename*`
    (RFC 5987). Control characters (a line break in a title) never reach the header."""
    kind = "inline" if inline else "attachment"
    name = clean_text(filename, 200) or "download"
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    fallback = "".join(ch if 0x20 <= ord(ch) < 0x7F and ch not in '"\\%' else "_"
                       for ch in folded)
    fallback = " ".join(fallback.split()) or "download"
    if fallback.startswith(".") or set(fallback) <= {"_", " ", "."}:
        ext = name.rsplit(".", 1)[-1] if "." in name else ""
        safe_ext = "".join(ch for ch in ext if ch.isascii() and ch.isalnum())
        fallback = f"download.{safe_ext}" if safe_ext else "download"
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe=_ATTR_CHARS)}"


def stream_object(store: Store, key: str, size: int, range_header: str | None, *,
                  filename: str | None = None, inline: bool = True) -> StreamingResponse:
    media_type = media_type_for(key)
    headers = {"Accept-Ranges": "bytes", "Cache-Control": "private, max-age=0"}
    if filename:
        headers["Content-Disposition"] = content_disposition(filename, inline)
    rng = parse_range(range_header, size)
    if rng is None:
        headers["Content-Length"] = str(size)
        return StreamingResponse(store.get_range(key, 0, size - 1) if size else iter([b""]),
                                 media_type=media_type, headers=headers)
    start, end = rng
    headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    headers["Content-Length"] = str(end - start + 1)
    return StreamingResponse(store.get_range(key, start, end), status_code=206,
                             media_type=media_type, headers=headers)
