"""One contract for every Store backend: local directory, and S3 against a real moto server.

The S3 side talks HTTP to `python -m moto.server` on loopback (fixture `s3_server` from
`tests/helpers/s3.py`); nothing is mocked in-process.
"""

from __future__ import annotations

import hashlib
import io
import os
import threading
import time
import tracemalloc
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tapeworks.errors import ArtifactMissing, RangeNotSatisfiable
from tapeworks.storage import LocalStore, ObjectInfo, Store
from tapeworks.storage import keys as K
from tapeworks.storage.base import CHUNK_SIZE
from tapeworks.storage.keys import InvalidKey

MiB = 1024 * 1024


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    if request.param == "local":
        return LocalStore(tmp_path / "store")
    return request.getfixturevalue("s3_store")


def _backend(store: Any) -> str:
    return "local" if isinstance(store, LocalStore) else "s3"


class PatternStream:
    """`size` bytes of a deterministic pattern, produced on demand; remembers read sizes.

    It never holds more than one requested chunk, so a store that reads it all into
    memory at once shows up as a `read(-1)` or a huge read.
    """

    def __init__(self, size: int, fail_after: int | None = None) -> None:
        self.size = size
        self.pos = 0
        self.fail_after = fail_after
        self.largest_read = 0
        self.unbounded_reads = 0
        self.sha = hashlib.sha256()

    @staticmethod
    def block(offset: int, n: int) -> bytes:
        """Bytes offset..offset+n of the pattern: 4 KiB blocks, each from its index."""
        out = bytearray()
        pos, end = offset, offset + n
        while pos < end:
            index, skip = divmod(pos, 4096)
            take = min(4096 - skip, end - pos)
            out += (hashlib.sha256(str(index).encode()).digest() * 128)[skip : skip + take]
            pos += take
        return bytes(out)

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            self.unbounded_reads += 1
            n = self.size - self.pos
        self.largest_read = max(self.largest_read, n)
        if self.fail_after is not None and self.pos + n > self.fail_after:
            raise OSError("client disconnected mid-upload")
        n = min(n, self.size - self.pos)
        data = self.block(self.pos, n)
        self.pos += n
        self.sha.update(data)
        return data


def expected_bytes(size: int, start: int = 0, end_inclusive: int | None = None) -> bytes:
    end = size - 1 if end_inclusive is None else min(end_inclusive, size - 1)
    return PatternStream.block(start, end - start + 1)


# -- round trip ----------------------------------------------------------------------------


def test_is_a_store(store: Any) -> None:
    assert isinstance(store, Store)
    assert store.url and "secret" not in store.url.lower()
    store.ping()


def _stream_round_trip(store: Any, size: int) -> tuple[int, int]:
    """put (from a stream) and get one object of `size` bytes; peak traced bytes of each."""
    src = PatternStream(size)
    key = f"users/1/sessions/2/source-{size}.wav"
    tracemalloc.start()
    try:
        info = store.put(key, src, content_type="audio/wav")
        _, peak_put = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        sha = hashlib.sha256()
        total = 0
        largest_chunk = 0
        with store.get(key) as stream:
            assert stream.info.size == size
            for chunk in stream:
                sha.update(chunk)
                total += len(chunk)
                largest_chunk = max(largest_chunk, len(chunk))
        _, peak_get = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert isinstance(info, ObjectInfo)
    assert (info.key, info.size) == (key, size)
    assert total == size
    assert sha.hexdigest() == src.sha.hexdigest()
    # The source was read in bounded pieces, never all at once.
    assert src.unbounded_reads == 0
    assert src.largest_read <= 8 * MiB
    assert largest_chunk <= CHUNK_SIZE
    return peak_put, peak_get


def _file_round_trip(store: Any, tmp_path: Path, size: int) -> tuple[int, int]:
    """put_file and download_to one file of `size` bytes; peak traced bytes of each."""
    src = tmp_path / f"big-{size}.bin"
    with open(src, "wb") as f:
        stream = PatternStream(size)
        while chunk := stream.read(MiB):
            f.write(chunk)
    back = tmp_path / f"back-{size}.bin"
    tracemalloc.start()
    try:
        info = store.put_file(f"big/file-{size}.bin", src)
        _, peak_put = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        store.download_to(f"big/file-{size}.bin", back)
        _, peak_get = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert info.size == size
    assert hashlib.sha256(back.read_bytes()).hexdigest() == stream.sha.hexdigest()
    return peak_put, peak_get


# Memory must not grow with the object (rule 11). What the client library buffers per part
# and per concurrent upload thread is its business and reaches a steady state once an object
# has more parts than can be in flight; what we check is that past that point an object three
# times larger costs at most a few MiB more (a copy would cost its whole size).
GROWTH_LIMIT = 4 * MiB


def _sizes(store: Any) -> tuple[int, int]:
    steady = 8 * MiB
    if _backend(store) == "s3":
        in_flight = store.transfer_config.max_request_concurrency + 3
        steady = max(steady, in_flight * store.part_size)
    return steady + 17, 3 * steady + 123


def _grows(what: str, sizes: tuple[int, int], small: int, large: int) -> None:
    assert large - small < GROWTH_LIMIT, (
        f"{what} peaked at {small / MiB:.1f} MiB for {sizes[0] / MiB:.0f} MiB and "
        f"{large / MiB:.1f} MiB for {sizes[1] / MiB:.0f} MiB")


def test_streams_do_not_grow_memory_with_object_size(store: Any) -> None:
    sizes = _sizes(store)
    small = _stream_round_trip(store, sizes[0])
    large = _stream_round_trip(store, sizes[1])
    _grows("put", sizes, small[0], large[0])
    _grows("get", sizes, small[1], large[1])


def test_files_do_not_grow_memory_with_object_size(store: Any, tmp_path: Path) -> None:
    sizes = _sizes(store)
    small = _file_round_trip(store, tmp_path, sizes[0])
    large = _file_round_trip(store, tmp_path, sizes[1])
    _grows("put_file", sizes, small[0], large[0])
    _grows("download_to", sizes, small[1], large[1])


def test_small_objects_bytes_file_and_iterables(store: Any, tmp_path: Path) -> None:
    store.put_bytes("a/one.json", b'{"x": 1}', content_type="application/json")
    assert store.get_bytes("a/one.json") == b'{"x": 1}'
    src = tmp_path / "src.bin"
    src.write_bytes(os.urandom(300_000))
    info = store.put_file("a/two.bin", src)
    assert info.size == 300_000
    assert store.get_bytes("a/two.bin") == src.read_bytes()
    store.put("a/three.txt", iter([b"he", b"", b"llo"]))  # an iterable of chunks works too
    assert store.get_bytes("a/three.txt") == b"hello"
    with store.get("a/three.txt") as s:
        assert s.read(2) == b"he"
        assert s.read() == b"llo"
    empty = store.put_bytes("a/empty", b"")
    assert empty.size == 0 and store.get_bytes("a/empty") == b""


def test_overwrite_replaces_content_and_etag(store: Any) -> None:
    first = store.put_bytes("k/v.txt", b"version one")
    second = store.put_bytes("k/v.txt", b"version two!")
    assert store.get_bytes("k/v.txt") == b"version two!"
    assert second.size == 12
    assert first.etag and second.etag and first.etag != second.etag


def test_download_to(store: Any, tmp_path: Path) -> None:
    store.put_bytes("d/x.bin", b"x" * 5000)
    dest = tmp_path / "scratch" / "x.bin"
    info = store.download_to("d/x.bin", dest)
    assert dest.read_bytes() == b"x" * 5000 and info.size == 5000
    with pytest.raises(ArtifactMissing, match=r"d/nope\.bin"):
        store.download_to("d/nope.bin", tmp_path / "scratch" / "nope.bin")
    assert sorted(p.name for p in (tmp_path / "scratch").iterdir()) == ["x.bin"]


# -- ranges --------------------------------------------------------------------------------


@pytest.fixture
def ranged(store: Any) -> tuple[Any, str, int]:
    size = 3 * MiB + 17  # more than CHUNK_SIZE, so long ranges come in several chunks
    store.put("r/blob.bin", PatternStream(size))
    return store, "r/blob.bin", size


@pytest.mark.parametrize(
    "case", ["first_byte", "last_byte", "middle", "suffix", "open_end", "past_end", "whole"]
)
def test_get_range(ranged: tuple[Any, str, int], case: str) -> None:
    store, key, size = ranged
    start, end = {
        "first_byte": (0, 0),
        "last_byte": (size - 1, size - 1),
        "middle": (1_000_000, 2_500_000),
        "suffix": (size - 500, size - 1),  # what "bytes=-500" resolves to
        "open_end": (size - 4096, None),
        "past_end": (size - 10, size + 10_000),  # clamped, as HTTP does
        "whole": (0, None),
    }[case]
    chunks = list(store.get_range(key, start, end))
    assert b"".join(chunks) == expected_bytes(size, start, end)
    assert all(len(c) <= CHUNK_SIZE for c in chunks)


def test_get_range_errors(ranged: tuple[Any, str, int]) -> None:
    store, key, size = ranged
    with pytest.raises(RangeNotSatisfiable) as excinfo:
        store.get_range(key, size)  # raised by the call, before any iteration
    assert excinfo.value.details["size"] == size
    with pytest.raises(ArtifactMissing, match=r"r/missing\.bin"):
        store.get_range("r/missing.bin", 0, 10)
    with pytest.raises(ValueError):
        store.get_range(key, 10, 5)
    with pytest.raises(ValueError):
        store.get_range(key, -1, 5)


# -- head, exists, missing -----------------------------------------------------------------


def test_head_and_exists(store: Any) -> None:
    assert store.head("h/x.txt") is None
    assert store.exists("h/x.txt") is False
    before = datetime.now(tz=UTC) - timedelta(seconds=5)
    store.put_bytes("h/x.txt", b"12345")
    info = store.head("h/x.txt")
    assert info is not None
    assert (info.key, info.size) == ("h/x.txt", 5)
    assert info.last_modified.tzinfo is not None
    assert before <= info.last_modified <= datetime.now(tz=UTC) + timedelta(seconds=5)
    assert store.exists("h/x.txt") is True
    # A "directory" of other keys is not an object.
    store.put_bytes("h/dir/y.txt", b"y")
    assert store.head("h/dir") is None and not store.exists("h/dir")


def test_missing_key_raises_artifact_missing_naming_it(store: Any) -> None:
    key = "users/7/sessions/9/transcript.json"
    for call in (store.get, store.get_bytes):
        with pytest.raises(ArtifactMissing) as excinfo:
            call(key)
        assert key in str(excinfo.value)
        assert excinfo.value.status_code == 500 and excinfo.value.code == "artifact_missing"
        assert excinfo.value.details["key"] == key


# -- list and delete -----------------------------------------------------------------------

TREE = [
    "users/1/sessions/1/source.wav",
    "users/1/sessions/1/transcript.json",
    "users/1/sessions/1/transcript.v1.json",
    "users/1/sessions/10/source.mp3",
    "users/1/episodes/3/audio.mp3",
    "users/1/episodes/3/transcript.json",
    "users/2/sessions/1/source.flac",
    "top.txt",
]


@pytest.fixture
def tree(store: Any) -> Any:
    for i, key in enumerate(TREE):
        store.put_bytes(key, b"x" * (i + 1))
    return store


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("", sorted(TREE)),
        ("users/1/sessions/1/", sorted(TREE[:3])),
        ("users/1/sessions/1", sorted(TREE[:4])),  # a plain string prefix also matches "10"
        ("users/1/", sorted(TREE[:6])),
        ("users/1/episodes/", sorted(TREE[4:6])),
        ("users/1/sessions/1/transcript", sorted(TREE[1:3])),
        ("users/3/", []),
        ("nothing/here/", []),
    ],
)
def test_list_by_prefix(tree: Any, prefix: str, expected: list[str]) -> None:
    listed = list(tree.list(prefix))
    assert [i.key for i in listed] == expected  # sorted by key, as S3 returns them
    sizes = {k: TREE.index(k) + 1 for k in expected}
    assert {i.key: i.size for i in listed} == sizes


def test_delete_is_idempotent(tree: Any) -> None:
    tree.delete("top.txt")
    tree.delete("top.txt")
    tree.delete("never/existed.txt")
    assert not tree.exists("top.txt")
    with pytest.raises(ArtifactMissing):
        tree.get("top.txt")


def test_delete_prefix(tree: Any) -> None:
    assert tree.delete_prefix("users/1/sessions/1/") == 3
    remaining = [i.key for i in tree.list()]
    assert remaining == sorted(k for k in TREE if not k.startswith("users/1/sessions/1/"))
    assert "users/1/sessions/10/source.mp3" in remaining  # the neighbour id survives
    assert tree.delete_prefix("users/1/sessions/1/") == 0  # idempotent
    assert tree.delete_prefix("users/1/") == 3
    assert [i.key for i in tree.list()] == ["top.txt", "users/2/sessions/1/source.flac"]
    with pytest.raises(InvalidKey, match="ending with '/'"):
        tree.delete_prefix("users/2")  # would also match users/20...
    with pytest.raises(InvalidKey):
        tree.delete_prefix("")


def test_delete_prefix_many(store: Any) -> None:
    n = 30 if _backend(store) == "local" else 1010  # > 1000: more than one DeleteObjects batch
    if _backend(store) == "s3":  # seed quickly with the raw client
        for i in range(n):
            store.client.put_object(
                Bucket=store.bucket, Key=f"{store.prefix}many/{i:05d}", Body=b""
            )
    else:
        for i in range(n):
            store.put_bytes(f"many/{i:05d}", b"")
    assert len(list(store.list("many/"))) == n
    assert store.delete_prefix("many/") == n
    assert list(store.list("many/")) == []


# -- atomicity -----------------------------------------------------------------------------


@pytest.mark.parametrize("fail_after", [1000, 12 * MiB])  # single PUT / multipart on S3
def test_failed_put_leaves_nothing(store: Any, tmp_path: Path, fail_after: int) -> None:
    key = "users/1/sessions/5/source.wav"
    with pytest.raises(OSError, match="client disconnected"):
        store.put(key, PatternStream(20 * MiB, fail_after=fail_after))
    assert store.head(key) is None
    with pytest.raises(ArtifactMissing):
        store.get(key)
    assert list(store.list("")) == []
    if _backend(store) == "local":
        leftovers = [p for p in (tmp_path / "store").rglob("*") if p.is_file()]
        assert leftovers == [], f"temp files left behind: {leftovers}"
    else:
        uploads = store.client.list_multipart_uploads(Bucket=store.bucket).get("Uploads", [])
        assert uploads == [], "a failed multipart upload was not aborted"


def test_failed_overwrite_keeps_the_old_object(store: Any) -> None:
    key = "users/1/sessions/6/transcript.json"
    store.put_bytes(key, b"the good transcript")
    with pytest.raises(OSError):
        store.put(key, PatternStream(6 * MiB, fail_after=5 * MiB + 1))
    assert store.get_bytes(key) == b"the good transcript"


def test_readers_never_see_a_partial_object(store: Any) -> None:
    key = "users/1/sessions/8/transcript.json"
    versions = [bytes([65 + i]) * (200_000 + 50_000 * i) for i in range(3)]
    store.put_bytes(key, versions[0])
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:
        i = 0
        try:
            while not stop.is_set():
                i += 1
                store.put(key, io.BytesIO(versions[i % 3]))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=writer)
    thread.start()
    reads = 0
    try:
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            data = store.get_bytes(key)
            reads += 1
            assert data in versions, f"partial read: {len(data)} bytes"
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not errors, errors
    assert reads > 3


# -- presigned URLs ------------------------------------------------------------------------


def test_presigned_urls(store: Any) -> None:
    key = "users/1/sessions/4/source.mp3"
    if _backend(store) == "local":
        assert store.presigned_get_url(key, 60) is None
        assert store.presigned_put_url(key, 60, "audio/mpeg") is None
        return
    put_url = store.presigned_put_url(key, 300, "audio/mpeg")
    assert put_url and put_url.startswith("http://127.0.0.1:")
    body = b"ID3" + os.urandom(50_000)
    req = urllib.request.Request(
        put_url, data=body, method="PUT", headers={"Content-Type": "audio/mpeg"}
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 200
    assert store.get_bytes(key) == body
    get_url = store.presigned_get_url(key, 300)
    assert get_url
    with urllib.request.urlopen(get_url, timeout=10) as resp:
        assert resp.read() == body
        assert resp.headers["Content-Type"] == "audio/mpeg"
    ranged = urllib.request.Request(get_url, headers={"Range": "bytes=0-2"})
    with urllib.request.urlopen(ranged, timeout=10) as resp:
        assert resp.status == 206 and resp.read() == b"ID3"


# -- keys ----------------------------------------------------------------------------------

BAD_KEYS = [
    "",
    "/etc/passwd",
    "../outside",
    "a/../../outside",
    "a/./b",
    "a//b",
    "a/b/",
    "a\\..\\b",
    "a\x00b",
    "a/\nb",
    "C:/windows",
    "a/.tw-tmp-123",
]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_bad_keys_are_refused_everywhere(store: Any, key: str) -> None:
    for call in (
        lambda: store.put_bytes(key, b"x"),
        lambda: store.get(key),
        lambda: store.head(key),
        lambda: store.exists(key),
        lambda: store.delete(key),
        lambda: store.get_range(key, 0, 1),
        lambda: store.presigned_get_url(key, 60),
    ):
        with pytest.raises(InvalidKey):
            call()
    assert list(store.list("")) == []


@pytest.mark.parametrize(
    "key",
    [
        "users/1/sessions/2/Ünïcödé 日本語 file.json",
        "users/1/sessions/2/emoji-🎙️.json",
        "users/1/sessions/2/odd chars +%?#&=;,'\"!@$()[]{}.json",
        "users/1/sessions/2/..hidden..dots",
    ],
)
def test_unicode_and_odd_keys_round_trip(store: Any, key: str) -> None:
    store.put_bytes(key, key.encode())
    assert store.get_bytes(key) == key.encode()
    assert [i.key for i in store.list("users/1/sessions/2/")] == [key]
    assert store.head(key) is not None
    assert b"".join(store.get_range(key, 0, 4)) == key.encode()[:5]
    store.delete(key)
    assert store.head(key) is None


def test_key_helpers_work_with_the_store(store: Any) -> None:
    key = K.session_source(42, "9f1c", "flac")
    store.put_bytes(key, b"audio")
    store.put_bytes(K.session_transcript(42, "9f1c"), b"{}")
    store.put_bytes(K.session_transcript(42, "9f1c", 1), b"{}")
    assert [i.key for i in store.list(K.session_prefix(42, "9f1c"))] == [
        "users/42/sessions/9f1c/source.flac",
        "users/42/sessions/9f1c/transcript.json",
        "users/42/sessions/9f1c/transcript.v1.json",
    ]
    assert store.delete_prefix(K.session_prefix(42, "9f1c")) == 3
