"""The object store interface (DESIGN.md rule 4: the object store is the truth).

Every artifact is written here under a deterministic key (see `keys.py`) *before* the
database says it exists. Local disk outside the store is scratch space only.

Guarantees every backend gives:
- `put` streams in bounded memory and is atomic: a reader sees the old object, the new
  one, or nothing, never a partial object; a put whose source stream fails leaves nothing.
- A missing object is an error (`ArtifactMissing`, naming the key), never `None`
  (only `head` answers `None`, because "is it there?" is its question).
- `delete` is idempotent; `delete_prefix` needs a prefix ending with ``/``.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any, BinaryIO, Protocol, runtime_checkable

from tapeworks.errors import RangeNotSatisfiable

CHUNK_SIZE = 1024 * 1024  # bytes per chunk yielded by get/get_range iteration


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    key: str  # relative to the store (never includes an S3 prefix or local root)
    size: int  # bytes
    etag: str | None  # opaque, unquoted; changes when the content changes
    last_modified: datetime  # timezone-aware UTC


class ObjectStream:
    """A readable binary stream over one stored object.

    `read(n)` like a file; iterating yields chunks of up to `CHUNK_SIZE` bytes (not lines);
    usable as a context manager; `info` is the object's metadata at open time.
    """

    def __init__(self, raw: Any, info: ObjectInfo, chunk_size: int = CHUNK_SIZE) -> None:
        self._raw = raw
        self.info = info
        self._chunk_size = chunk_size
        self.closed = False

    @property
    def key(self) -> str:
        return self.info.key

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            return self._raw.read()
        return self._raw.read(size)

    def __iter__(self) -> Iterator[bytes]:
        while True:
            chunk = self._raw.read(self._chunk_size)
            if not chunk:
                return
            yield chunk

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._raw.close()

    def __enter__(self) -> ObjectStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@runtime_checkable
class Store(Protocol):
    """What the rest of tapeworks may ask of an object store."""

    @property
    def url(self) -> str:
        """A description for logs and /readyz (no credentials)."""
        ...

    def put(
        self, key: str, stream: IO[bytes] | BinaryIO, *, content_type: str | None = None
    ) -> ObjectInfo:
        """Store everything `stream.read()` returns, atomically, in bounded memory."""
        ...

    def put_bytes(
        self, key: str, data: bytes, *, content_type: str | None = None
    ) -> ObjectInfo: ...

    def put_file(self, key: str, path: Path, *, content_type: str | None = None) -> ObjectInfo: ...

    def get(self, key: str) -> ObjectStream:
        """Open the object for reading. Raises `ArtifactMissing` (naming the key)."""
        ...

    def get_bytes(self, key: str) -> bytes: ...

    def get_range(self, key: str, start: int, end_inclusive: int | None = None) -> Iterator[bytes]:
        """Bytes `start..end_inclusive` (clamped to the object) as chunks.

        Errors are raised by the call itself, before the first chunk: `ArtifactMissing`,
        `RangeNotSatisfiable` when `start` is at or past the end.
        """
        ...

    def download_to(self, key: str, path: Path) -> ObjectInfo:
        """Copy the object to a local (scratch) file, atomically. Raises `ArtifactMissing`."""
        ...

    def head(self, key: str) -> ObjectInfo | None: ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None:
        """Remove the object; no error if it is already gone."""
        ...

    def delete_prefix(self, prefix: str) -> int:
        """Remove every object under `prefix` (must end with '/'); returns how many."""
        ...

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Objects whose key starts with `prefix` (a plain string prefix), sorted by key."""
        ...

    def presigned_get_url(self, key: str, expires: int = 3600) -> str | None:
        """A URL a client can GET directly, or None when the backend has none (local)."""
        ...

    def presigned_put_url(
        self, key: str, expires: int = 3600, content_type: str | None = None
    ) -> str | None:
        """A URL a client can PUT to directly (sending the same Content-Type), or None."""
        ...

    def ping(self) -> None:
        """Readiness: returns if the store is reachable and writable, raises otherwise."""
        ...


class StoreHelpers:
    """Conveniences shared by the backends, built on their primitives."""

    def put(self, key: str, stream: Any, *, content_type: str | None = None) -> ObjectInfo:
        raise NotImplementedError

    def get(self, key: str) -> ObjectStream:
        raise NotImplementedError

    def head(self, key: str) -> ObjectInfo | None:
        raise NotImplementedError

    def put_bytes(self, key: str, data: bytes, *, content_type: str | None = None) -> ObjectInfo:
        import io

        return self.put(key, io.BytesIO(data), content_type=content_type)

    def put_file(self, key: str, path: Path, *, content_type: str | None = None) -> ObjectInfo:
        with open(path, "rb") as f:
            return self.put(key, f, content_type=content_type)

    def get_bytes(self, key: str) -> bytes:
        with self.get(key) as s:
            return s.read()

    def download_to(self, key: str, path: Path) -> ObjectInfo:
        import os
        import uuid

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.part-{uuid.uuid4().hex}")
        try:
            with self.get(key) as src, open(tmp, "wb") as dst:
                shutil.copyfileobj(src, dst, CHUNK_SIZE)
                info = src.info
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return info

    def exists(self, key: str) -> bool:
        return self.head(key) is not None


class IterReader:
    """Adapt an iterable of bytes chunks (e.g. an HTTP body) to a `read(n)` stream."""

    def __init__(self, chunks: Any) -> None:
        self._it = iter(chunks)
        self._buf = b""

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            parts = [self._buf, *self._it]
            self._buf = b""
            return b"".join(parts)
        while len(self._buf) < size:
            try:
                chunk = next(self._it)
            except StopIteration:
                break
            if chunk:
                self._buf += bytes(chunk)
        out, self._buf = self._buf[:size], self._buf[size:]
        return out


def as_reader(stream: Any) -> Any:
    """Anything with `read`, or an iterable of bytes chunks, as something with `read`."""
    if hasattr(stream, "read"):
        return stream
    if isinstance(stream, (bytes, bytearray, memoryview)):
        raise TypeError("put() takes a stream; use put_bytes() for bytes")
    return IterReader(stream)


def check_range(key: str, size: int, start: int, end_inclusive: int | None) -> tuple[int, int]:
    """Validate a byte range against an object of `size` bytes; returns (start, end) clamped."""
    if start < 0:
        raise ValueError(f"range start must be >= 0, got {start}")
    if end_inclusive is not None and end_inclusive < start:
        raise ValueError(f"range end {end_inclusive} is before start {start}")
    if start >= size:
        raise RangeNotSatisfiable(
            f"range starts at byte {start} but {key!r} has {size} bytes",
            details={"size": size},
        )
    end = size - 1 if end_inclusive is None else min(end_inclusive, size - 1)
    return start, end
