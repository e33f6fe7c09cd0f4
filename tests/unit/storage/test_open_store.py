"""open_store: which backend a TAPEWORKS_STORAGE_URL gives."""

from __future__ import annotations

from pathlib import Path

import pytest

from tapeworks.errors import ConfigError
from tapeworks.storage import LocalStore, S3Store, open_store


def test_default_is_a_local_store_in_the_data_dir(tmp_path: Path) -> None:
    store = open_store("", tmp_path)
    assert isinstance(store, LocalStore)
    assert store.root == (tmp_path / "store").resolve()
    assert store.root.is_dir()
    assert isinstance(open_store(None, tmp_path), LocalStore)


def test_local_paths(tmp_path: Path) -> None:
    absolute = tmp_path / "elsewhere"
    assert open_store(str(absolute), tmp_path).root == absolute.resolve()  # type: ignore[attr-defined]
    assert open_store(f"file://{absolute}", tmp_path).root == absolute.resolve()  # type: ignore[attr-defined]
    # Relative paths are relative to the data dir, so every process finds the same store.
    assert open_store("objects", tmp_path).root == (tmp_path / "objects").resolve()  # type: ignore[attr-defined]
    assert open_store("file://objects", tmp_path).root == (tmp_path / "objects").resolve()  # type: ignore[attr-defined]


def test_s3_endpoint_from_query(tmp_path: Path) -> None:
    store = open_store(
        "s3://bucket/some/prefix/?endpoint=http://127.0.0.1:9000&region=eu-west-1",
        tmp_path,
        env={"TAPEWORKS_S3_ENDPOINT_URL": "http://ignored:1"},
    )
    assert isinstance(store, S3Store)
    assert (store.bucket, store.prefix) == ("bucket", "some/prefix/")
    assert store.endpoint_url == "http://127.0.0.1:9000"  # the query wins over the env
    assert store.region == "eu-west-1"
    assert store.url == "s3://bucket/some/prefix/ (endpoint http://127.0.0.1:9000)"
    assert store.client.meta.endpoint_url == "http://127.0.0.1:9000"


def test_s3_endpoint_from_env(tmp_path: Path) -> None:
    store = open_store(
        "s3://bucket",
        tmp_path,
        env={"TAPEWORKS_S3_ENDPOINT_URL": "http://minio:9000", "TAPEWORKS_S3_REGION": "us-east-1"},
    )
    assert isinstance(store, S3Store)
    assert (store.bucket, store.prefix, store.endpoint_url) == ("bucket", "", "http://minio:9000")
    assert store.region == "us-east-1"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("gs://bucket/x", "'gs'"),
        ("ftp://host/x", "'ftp'"),
        ("s3:///prefix", "names no bucket"),
        ("s3://bucket/?secret=1", "unknown parameters: secret"),
        ("s3://bucket/a/../b", "storage URL"),
        ("file://", "names no directory"),
    ],
)
def test_bad_urls(tmp_path: Path, url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("?", r"\?")) as excinfo:
        open_store(url, tmp_path)
    assert excinfo.value.status_code == 500
