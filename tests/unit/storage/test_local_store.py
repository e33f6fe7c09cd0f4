"""LocalStore specifics: files on disk, temp files, conflicts, health."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tapeworks.errors import Conflict, ServiceUnavailable
from tapeworks.storage import LocalStore
from tapeworks.storage.keys import TEMP_MARKER


def test_objects_are_plain_files_under_the_root(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "s")
    store.put_bytes("users/1/sessions/2/source.wav", b"abc")
    assert (tmp_path / "s" / "users" / "1" / "sessions" / "2" / "source.wav").read_bytes() == b"abc"
    assert store.url == (tmp_path / "s").resolve().as_uri()


def test_orphan_temp_files_are_invisible(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.put_bytes("a/x.json", b"{}")
    (tmp_path / "a" / f"{TEMP_MARKER}deadbeef").write_bytes(b"partial")  # a crash mid-put
    assert [i.key for i in store.list("")] == ["a/x.json"]
    assert [i.key for i in store.list("a/")] == ["a/x.json"]


def test_delete_prunes_empty_directories_but_not_the_root(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "s")
    store.put_bytes("users/1/sessions/2/source.wav", b"abc")
    store.put_bytes("users/1/keep.txt", b"k")
    store.delete("users/1/sessions/2/source.wav")
    assert not (tmp_path / "s" / "users" / "1" / "sessions").exists()
    assert (tmp_path / "s" / "users" / "1" / "keep.txt").exists()
    store.delete_prefix("users/")
    assert (tmp_path / "s").is_dir() and list((tmp_path / "s").iterdir()) == []


def test_key_and_directory_conflict(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.put_bytes("a/b", b"file")
    with pytest.raises(Conflict):
        store.put_bytes("a/b/c", b"under a file")
    store.put_bytes("x/y/z", b"z")
    with pytest.raises(Conflict):
        store.put_bytes("x/y", b"over a directory")
    assert store.get_bytes("a/b") == b"file" and store.get_bytes("x/y/z") == b"z"
    assert [p.name for p in (tmp_path / "x").iterdir()] == ["y"]  # no temp file left


def test_written_file_permissions_follow_umask(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.put_bytes("p.txt", b"x")
    mode = (tmp_path / "p.txt").stat().st_mode & 0o777
    assert mode & 0o600 == 0o600


def test_ping(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "s")
    store.ping()
    assert list((tmp_path / "s").iterdir()) == []  # the probe file is removed
    os.rmdir(tmp_path / "s")
    with pytest.raises(ServiceUnavailable, match="not writable"):
        store.ping()


def test_symlinked_root_is_resolved(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    store = LocalStore(tmp_path / "link")
    store.put_bytes("k", b"v")
    assert (real / "k").read_bytes() == b"v"
