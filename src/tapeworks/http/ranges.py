"""HTTP helpers shared by the API and the pages: byte ranges from the object store."""

from __future__ import annotations

import mimetypes
import re
from urllib.parse import quote

from fastapi.responses import StreamingResponse

from tapeworks.errors import RangeNotSatisfiable
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


def content_disposition(filename: str, inline: bool = True) -> str:
    kind = "inline" if inline else "attachment"
    ascii_name = filename.encode("ascii", "replace").decode().replace('"', "'").replace("?", "_")
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"


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
