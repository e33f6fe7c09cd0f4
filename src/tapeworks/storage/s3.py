"""An S3-compatible object store (AWS S3, MinIO, Ceph, R2, ...) through boto3.

- Keys are stored under an optional `prefix` inside the bucket; every key this class
  accepts or returns is relative to that prefix.
- `put` streams through boto3's managed transfer: below `part_size` one PutObject, above
  it a multipart upload of `part_size` parts; memory is bounded by a few parts
  (about (stream_concurrency + 2.5) x part_size), not by the object. S3 only makes an object visible when the upload completes, and a
  failed multipart upload is aborted, so readers never see a partial object.
- `put_file` uploads from a path, reading each part from disk as it is sent (a few MiB
  of memory): the API should spool an upload to scratch disk, probe it, then `put_file`.
- Credentials: explicit arguments, else boto3's default chain (`AWS_ACCESS_KEY_ID`,
  `AWS_SECRET_ACCESS_KEY`, `AWS_PROFILE`, instance roles, ...). They never appear in `url`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from tapeworks.errors import ArtifactMissing, RangeNotSatisfiable, ServiceUnavailable
from tapeworks.storage.base import (
    CHUNK_SIZE,
    ObjectInfo,
    ObjectStream,
    StoreHelpers,
    as_reader,
)
from tapeworks.storage.keys import InvalidKey, validate_key, validate_prefix

MiB = 1024 * 1024
_NOT_FOUND = {"404", "NoSuchKey", "NotFound"}


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)


def _etag(raw: str | None) -> str | None:
    return raw.strip('"') if raw else None


def _utc(value: datetime | None) -> datetime:
    if value is None:
        return datetime.now(tz=UTC)
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


class _ReadOnly:
    """Hide `seek`/`tell` so boto3 treats any stream as non-seekable.

    A seekable file object would be read one whole part per thread into memory *and*
    retried by seeking; non-seekable streams go through the bounded in-memory queue.
    """

    def __init__(self, reader: Any) -> None:
        self._reader = reader

    def read(self, size: int = -1) -> bytes:
        return self._reader.read(size)


class S3Store(StoreHelpers):
    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        session_token: str | None = None,
        addressing_style: str | None = None,
        part_size: int = 8 * MiB,
        max_concurrency: int = 4,
        stream_concurrency: int = 2,
        client: Any = None,
    ) -> None:
        if not bucket:
            raise InvalidKey("S3 bucket name must not be empty")
        if part_size < 5 * MiB:
            raise ValueError("part_size must be at least 5 MiB (the S3 minimum part size)")
        prefix = prefix.strip("/")
        if prefix:
            validate_prefix(prefix)
            prefix += "/"
        self.bucket = bucket
        self.prefix = prefix
        self.endpoint_url = endpoint_url
        self.region = region
        if client is None:
            config = Config(
                signature_version="s3v4",
                s3={"addressing_style": addressing_style or ("path" if endpoint_url else "auto")},
                retries={"max_attempts": 5, "mode": "standard"},
                connect_timeout=10,
                read_timeout=60,
                max_pool_connections=max(10, max_concurrency * 2),
            )
            session = boto3.session.Session(
                aws_access_key_id=access_key_id,
                aws_secret_access_key=secret_access_key,
                aws_session_token=session_token,
                region_name=region,
            )
            client = session.client("s3", endpoint_url=endpoint_url, config=config)
        self.client = client
        self.part_size = part_size
        # Files (put_file, download_to) are read/written part by part from disk: cheap
        # in memory, so use more connections.
        self.transfer_config = TransferConfig(
            multipart_threshold=part_size,
            multipart_chunksize=part_size,
            max_concurrency=max_concurrency,
            use_threads=max_concurrency > 1,
        )
        # Streams (put) must be buffered part by part: peak memory is about
        # (stream_concurrency + 2.5) x part_size whatever the object size (measured: 22 MiB
        # for 5 MiB parts and 2 threads; 35 MiB for the 8 MiB default).
        self.stream_transfer_config = TransferConfig(
            multipart_threshold=part_size,
            multipart_chunksize=part_size,
            max_concurrency=stream_concurrency,
            use_threads=stream_concurrency > 1,
        )
        # s3transfer's cap on parts queued in memory for non-seekable streams (default 10).
        self.stream_transfer_config.max_in_memory_upload_chunks = stream_concurrency

    def __repr__(self) -> str:
        return f"S3Store({self.url!r})"

    @property
    def url(self) -> str:
        base = f"s3://{self.bucket}/{self.prefix}"
        return f"{base} (endpoint {self.endpoint_url})" if self.endpoint_url else base

    # -- keys --------------------------------------------------------------------------
    def _full(self, key: str) -> str:
        return self.prefix + validate_key(key)

    def _rel(self, full_key: str) -> str:
        return full_key[len(self.prefix) :]

    def _missing(self, key: str) -> ArtifactMissing:
        return ArtifactMissing(
            f"object {key!r} is missing from the store ({self.url})", details={"key": key},
            public_message="a stored file this needs is missing; the server log names it",
        )

    # -- writes ------------------------------------------------------------------------
    def put(self, key: str, stream: Any, *, content_type: str | None = None) -> ObjectInfo:
        full = self._full(key)
        extra = {"ContentType": content_type} if content_type else None
        self.client.upload_fileobj(
            _ReadOnly(as_reader(stream)),
            self.bucket,
            full,
            ExtraArgs=extra,
            Config=self.stream_transfer_config,
        )
        return self._head_after_write(key)

    def put_file(self, key: str, path: Path, *, content_type: str | None = None) -> ObjectInfo:
        full = self._full(key)
        extra = {"ContentType": content_type} if content_type else None
        self.client.upload_file(
            str(path), self.bucket, full, ExtraArgs=extra, Config=self.transfer_config
        )
        return self._head_after_write(key)

    def _head_after_write(self, key: str) -> ObjectInfo:
        info = self.head(key)
        if info is None:  # S3 is read-after-write consistent; this would be a broken backend
            raise self._missing(key)
        return info

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._full(key))
        except ClientError as exc:
            if _code(exc) in _NOT_FOUND:
                return
            raise

    def delete_prefix(self, prefix: str) -> int:
        validate_prefix(prefix, allow_empty=False)
        if not prefix.endswith("/"):
            raise InvalidKey(
                f"delete_prefix needs a prefix ending with '/', got {prefix!r} "
                "(a bare string prefix could match neighbours such as id 10 for id 1)"
            )
        count = 0
        batch: list[dict[str, str]] = []

        def flush() -> int:
            if not batch:
                return 0
            resp = self.client.delete_objects(
                Bucket=self.bucket, Delete={"Objects": list(batch), "Quiet": True}
            )
            errors = resp.get("Errors") or []
            if errors:
                first = errors[0]
                raise RuntimeError(
                    f"could not delete {len(errors)} objects under {prefix!r}: "
                    f"{first.get('Key')}: {first.get('Code')} {first.get('Message')}"
                )
            n = len(batch)
            batch.clear()
            return n

        for info in self.list(prefix):
            batch.append({"Key": self.prefix + info.key})
            if len(batch) == 1000:
                count += flush()
        count += flush()
        return count

    # -- reads -------------------------------------------------------------------------
    def get(self, key: str) -> ObjectStream:
        full = self._full(key)
        try:
            resp = self.client.get_object(Bucket=self.bucket, Key=full)
        except ClientError as exc:
            if _code(exc) in _NOT_FOUND:
                raise self._missing(key) from None
            raise
        info = ObjectInfo(
            key=key,
            size=int(resp["ContentLength"]),
            etag=_etag(resp.get("ETag")),
            last_modified=_utc(resp.get("LastModified")),
        )
        return ObjectStream(resp["Body"], info)

    def get_range(self, key: str, start: int, end_inclusive: int | None = None) -> Iterator[bytes]:
        full = self._full(key)
        if start < 0:
            raise ValueError(f"range start must be >= 0, got {start}")
        if end_inclusive is not None and end_inclusive < start:
            raise ValueError(f"range end {end_inclusive} is before start {start}")
        rng = f"bytes={start}-" if end_inclusive is None else f"bytes={start}-{end_inclusive}"
        try:
            resp = self.client.get_object(Bucket=self.bucket, Key=full, Range=rng)
        except ClientError as exc:
            if _code(exc) in _NOT_FOUND:
                raise self._missing(key) from None
            if _code(exc) == "InvalidRange" or _status(exc) == 416:
                info = self.head(key)
                size = info.size if info else 0
                raise RangeNotSatisfiable(
                    f"range starts at byte {start} but {key!r} has {size} bytes",
                    details={"size": size},
                ) from None
            raise
        return resp["Body"].iter_chunks(CHUNK_SIZE)

    def head(self, key: str) -> ObjectInfo | None:
        try:
            resp = self.client.head_object(Bucket=self.bucket, Key=self._full(key))
        except ClientError as exc:
            if _code(exc) in _NOT_FOUND or _status(exc) == 404:
                return None
            raise
        return ObjectInfo(
            key=key,
            size=int(resp["ContentLength"]),
            etag=_etag(resp.get("ETag")),
            last_modified=_utc(resp.get("LastModified")),
        )

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        validate_prefix(prefix)
        paginator = self.client.get_paginator("list_objects_v2")
        pages = paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix)
        return self._iter_pages(pages)

    def _iter_pages(self, pages: Any) -> Iterator[ObjectInfo]:
        for page in pages:
            for obj in page.get("Contents", []) or []:
                yield ObjectInfo(
                    key=self._rel(obj["Key"]),
                    size=int(obj["Size"]),
                    etag=_etag(obj.get("ETag")),
                    last_modified=_utc(obj.get("LastModified")),
                )

    # -- direct access and health ------------------------------------------------------
    def presigned_get_url(self, key: str, expires: int = 3600) -> str | None:
        return str(
            self.client.generate_presigned_url(
                "get_object",
                Params={"Bucket": self.bucket, "Key": self._full(key)},
                ExpiresIn=int(expires),
            )
        )

    def presigned_put_url(
        self, key: str, expires: int = 3600, content_type: str | None = None
    ) -> str | None:
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": self._full(key)}
        if content_type:
            params["ContentType"] = content_type
        return str(
            self.client.generate_presigned_url("put_object", Params=params, ExpiresIn=int(expires))
        )

    def ping(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except (ClientError, BotoCoreError) as exc:
            raise ServiceUnavailable(
                f"object store {self.url} is not reachable: {exc}", details={"store": self.url},
                public_message="the object store is not reachable",
            ) from exc
