"""Object storage: the `Store` interface, its local and S3 backends, and key helpers.

Use `open_store(settings.storage_url, settings.data_dir)` once per process and pass the
store around; build keys only with `tapeworks.storage.keys`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from tapeworks.errors import ConfigError
from tapeworks.storage.base import ObjectInfo, ObjectStream, Store
from tapeworks.storage.keys import InvalidKey
from tapeworks.storage.local import LocalStore

__all__ = [
    "InvalidKey",
    "LocalStore",
    "ObjectInfo",
    "ObjectStream",
    "S3Store",
    "Store",
    "open_store",
]

ENDPOINT_ENV = "TAPEWORKS_S3_ENDPOINT_URL"
REGION_ENV = "TAPEWORKS_S3_REGION"


def open_store(url: str | None, data_dir: Path, *, env: Mapping[str, str] | None = None) -> Store:
    """Open the store named by `TAPEWORKS_STORAGE_URL`.

    - ``""`` (or None): a `LocalStore` in ``<data_dir>/store``.
    - ``file:///abs/path``, ``file://rel/path``, ``/abs/path`` or ``rel/path``: a
      `LocalStore` there. Relative paths are relative to `data_dir`, not to the current
      directory, so that the API and every worker resolve the same store.
    - ``s3://bucket/optional/prefix``: an `S3Store`. The endpoint (for MinIO, Ceph, R2,
      a local test server) comes from the ``?endpoint=`` query parameter if present,
      else from the environment variable ``TAPEWORKS_S3_ENDPOINT_URL``, else boto3's own
      resolution (``AWS_ENDPOINT_URL_S3``/``AWS_ENDPOINT_URL``, then AWS itself).
      The region likewise: ``?region=``, else ``TAPEWORKS_S3_REGION``, else boto3's
      (``AWS_REGION``/``AWS_DEFAULT_REGION``/profile). ``?addressing_style=path|virtual``
      overrides the default (path style when an endpoint is given). Credentials are never
      read from the URL: boto3's default chain (``AWS_ACCESS_KEY_ID``, ...) supplies them.
    - Any other scheme: `ConfigError` naming it.
    """
    env = os.environ if env is None else env
    data_dir = Path(data_dir)
    url = (url or "").strip()
    if not url:
        return LocalStore(data_dir / "store")
    if "://" not in url:
        return LocalStore(_local_path(url, data_dir))
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "file":
        raw = unquote(url[len("file://") :])
        if not raw:
            raise ConfigError(f"storage URL {url!r} names no directory")
        return LocalStore(_local_path(raw, data_dir))
    if scheme == "s3":
        from tapeworks.storage.s3 import S3Store

        if not parts.netloc:
            raise ConfigError(f"storage URL {url!r} names no bucket (expected s3://bucket/prefix)")
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        unknown = set(query) - {"endpoint", "region", "addressing_style"}
        if unknown:
            raise ConfigError(
                f"storage URL {url!r} has unknown parameters: {', '.join(sorted(unknown))}"
            )
        endpoint = query.get("endpoint") or env.get(ENDPOINT_ENV) or None
        region = query.get("region") or env.get(REGION_ENV) or None
        try:
            return S3Store(
                parts.netloc,
                unquote(parts.path),
                endpoint_url=endpoint,
                region=region,
                addressing_style=query.get("addressing_style"),
            )
        except InvalidKey as exc:
            raise ConfigError(f"storage URL {url!r}: {exc}") from exc
    raise ConfigError(
        f"storage URL scheme {parts.scheme!r} is not supported "
        "(use a path, file://... or s3://bucket/prefix)"
    )


def _local_path(raw: str, data_dir: Path) -> Path:
    path = Path(raw).expanduser()
    return path if path.is_absolute() else data_dir / path


def __getattr__(name: str) -> object:
    # S3Store imports boto3; only pay for it when asked.
    if name == "S3Store":
        from tapeworks.storage.s3 import S3Store

        return S3Store
    raise AttributeError(name)
