"""A local-directory object store (the embedded default).

Each key maps to a file under `root` (``a/b/c.json`` → ``root/a/b/c.json``). Writes go to a
temp file in the destination directory (name starting with ``.tw-tmp-``), are fsynced,
renamed over the destination with `os.replace` and the directory is fsynced: a reader
sees the old file, the new file or nothing, and a crash leaves at worst an orphan temp
file, never a partial object. Temp files are invisible to `list`/`head`/`get`.

Limitation (filesystem, not S3): a key cannot also be a "directory" of other keys
(``a/b`` and ``a/b/c`` cannot both exist); trying raises `Conflict`.
"""

from __future__ import annotations

import contextlib
import errno
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tapeworks.errors import ArtifactMissing, Conflict, ServiceUnavailable
from tapeworks.storage.base import (
    CHUNK_SIZE,
    ObjectInfo,
    ObjectStream,
    StoreHelpers,
    as_reader,
    check_range,
)
from tapeworks.storage.keys import TEMP_MARKER, InvalidKey, validate_key, validate_prefix

_MISSING_ERRNOS = (errno.ENOENT, errno.ENOTDIR, errno.EISDIR)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _info(key: str, st: os.stat_result) -> ObjectInfo:
    return ObjectInfo(
        key=key,
        size=st.st_size,
        # A new inode per put (temp file + rename), so this changes whenever content can.
        etag=f"{st.st_ino:x}-{st.st_size:x}-{st.st_mtime_ns:x}",
        last_modified=datetime.fromtimestamp(st.st_mtime, tz=UTC),
    )


class _RangeIterator:
    """Yields bytes [start, end] of an open file in chunks, closing it when done."""

    def __init__(self, f: Any, start: int, end: int) -> None:
        self._f = f
        self._remaining = end - start + 1
        f.seek(start)

    def __iter__(self) -> _RangeIterator:
        return self

    def __next__(self) -> bytes:
        if self._remaining <= 0:
            self.close()
            raise StopIteration
        chunk = self._f.read(min(CHUNK_SIZE, self._remaining))
        if not chunk:
            self.close()
            raise StopIteration
        self._remaining -= len(chunk)
        return chunk

    def close(self) -> None:
        self._remaining = 0
        self._f.close()


class LocalStore(StoreHelpers):
    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).expanduser().resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def __repr__(self) -> str:
        return f"LocalStore({str(self.root)!r})"

    @property
    def url(self) -> str:
        return self.root.as_uri()

    # -- paths -------------------------------------------------------------------------
    def _path(self, key: str) -> Path:
        validate_key(key)
        path = self.root.joinpath(*key.split("/"))
        # Segments are validated, so this only fails on something odd like a drive letter.
        if os.path.commonpath([self.root, path]) != str(self.root):
            raise InvalidKey(f"key {key!r} escapes the store root")
        return path

    def _missing(self, key: str) -> ArtifactMissing:
        return ArtifactMissing(
            f"object {key!r} is missing from the store ({self.url})", details={"key": key},
            public_message="a stored file this needs is missing; the server log names it",
        )

    # -- writes ------------------------------------------------------------------------
    def put(self, key: str, stream: Any, *, content_type: str | None = None) -> ObjectInfo:
        path = self._path(key)
        reader = as_reader(stream)
        tmp = path.with_name(f"{TEMP_MARKER}{uuid.uuid4().hex}")
        fd = self._open_temp(key, path, tmp)
        try:
            with os.fdopen(fd, "wb") as out:
                while True:
                    chunk = reader.read(CHUNK_SIZE)
                    if not chunk:
                        break
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            try:
                os.replace(tmp, path)
            except IsADirectoryError as exc:
                raise Conflict(
                    f"cannot store {key!r}: other objects exist under {key + '/'!r}"
                ) from exc
            _fsync_dir(path.parent)
            return _info(key, path.stat())
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def _open_temp(self, key: str, path: Path, tmp: Path) -> int:
        # A concurrent delete may prune the (empty) parent between mkdir and open: retry.
        for attempt in range(5):
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except (FileExistsError, NotADirectoryError) as exc:
                raise Conflict(
                    f"cannot store {key!r}: a part of its path is already an object"
                ) from exc
            except FileNotFoundError:
                if attempt == 4:
                    raise
        raise AssertionError("unreachable")

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            path.unlink()
        except FileNotFoundError:
            return
        except (NotADirectoryError, IsADirectoryError, PermissionError) as exc:
            if path.is_dir() or not path.exists():
                return  # a "directory" of other keys is not an object
            raise exc
        _fsync_dir(path.parent)
        self._prune(path.parent)

    def delete_prefix(self, prefix: str) -> int:
        validate_prefix(prefix, allow_empty=False)
        if not prefix.endswith("/"):
            raise InvalidKey(
                f"delete_prefix needs a prefix ending with '/', got {prefix!r} "
                "(a bare string prefix could match neighbours such as id 10 for id 1)"
            )
        count = 0
        for info in list(self.list(prefix)):
            try:
                self._path(info.key).unlink()
                count += 1
            except FileNotFoundError:
                pass
        base = self.root.joinpath(*prefix.rstrip("/").split("/"))
        if base.is_dir():
            for dirpath, _dirs, _files in os.walk(base, topdown=False):
                with contextlib.suppress(OSError):  # not empty (e.g. a put in progress)
                    os.rmdir(dirpath)
        self._prune(base.parent)
        return count

    def _prune(self, directory: Path) -> None:
        """Remove empty directories from `directory` up to (not including) the root."""
        while directory != self.root and self.root in directory.parents:
            try:
                directory.rmdir()
            except OSError:
                return
            directory = directory.parent

    # -- reads -------------------------------------------------------------------------
    def _open(self, key: str) -> tuple[Any, os.stat_result]:
        path = self._path(key)
        try:
            f = open(path, "rb")  # noqa: SIM115 - handed to the caller
        except OSError as exc:
            if exc.errno in _MISSING_ERRNOS:
                raise self._missing(key) from None
            raise
        return f, os.fstat(f.fileno())

    def get(self, key: str) -> ObjectStream:
        f, st = self._open(key)
        return ObjectStream(f, _info(key, st))

    def get_range(self, key: str, start: int, end_inclusive: int | None = None) -> Iterator[bytes]:
        f, st = self._open(key)
        try:
            start, end = check_range(key, st.st_size, start, end_inclusive)
        except BaseException:
            f.close()
            raise
        return _RangeIterator(f, start, end)

    def head(self, key: str) -> ObjectInfo | None:
        path = self._path(key)
        try:
            st = path.stat()
        except OSError as exc:
            if exc.errno in _MISSING_ERRNOS:
                return None
            raise
        if not os.path.isfile(path):
            return None
        return _info(key, st)

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        validate_prefix(prefix)
        if "/" in prefix:
            dir_part, name_part = prefix.rsplit("/", 1)
            base = self.root.joinpath(*dir_part.split("/"))
            key_base = dir_part + "/"
        else:
            base, key_base, name_part = self.root, "", prefix
        return self._walk(base, key_base, name_part)

    def _walk(self, directory: Path, key_base: str, name_prefix: str) -> Iterator[ObjectInfo]:
        try:
            entries = list(os.scandir(directory))
        except (FileNotFoundError, NotADirectoryError):
            return
        # Sort as S3 does (by the UTF-8 bytes of the full key): a directory sorts as "name/".
        decorated = []
        for entry in entries:
            name = entry.name
            if name.startswith(TEMP_MARKER) or not name.startswith(name_prefix):
                continue
            if entry.is_dir(follow_symlinks=False):
                decorated.append(((name + "/").encode("utf-8", "surrogateescape"), entry, True))
            elif entry.is_file(follow_symlinks=False):
                decorated.append((name.encode("utf-8", "surrogateescape"), entry, False))
        decorated.sort(key=lambda item: item[0])
        for _sort_key, entry, is_dir in decorated:
            if is_dir:
                yield from self._walk(Path(entry.path), f"{key_base}{entry.name}/", "")
            else:
                try:
                    st = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue  # deleted while listing
                yield _info(key_base + entry.name, st)

    # -- direct access and health ------------------------------------------------------
    def presigned_get_url(self, key: str, expires: int = 3600) -> str | None:
        validate_key(key)
        return None

    def presigned_put_url(
        self, key: str, expires: int = 3600, content_type: str | None = None
    ) -> str | None:
        validate_key(key)
        return None

    def ping(self) -> None:
        probe = self.root / f"{TEMP_MARKER}ping-{uuid.uuid4().hex}"
        try:
            if not self.root.is_dir():
                raise FileNotFoundError(f"{self.root} is not a directory")
            fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.close(fd)
            probe.unlink()
        except OSError as exc:
            raise ServiceUnavailable(
                f"object store {self.url} is not writable: {exc}", details={"store": self.url},
                public_message="the object store is not writable",
            ) from exc
