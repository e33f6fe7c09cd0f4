"""Upload intake shared by every route that takes audio (recordings, assets): streaming
multipart bodies (bytes go to a scratch file as they arrive, counted, and the upload is
refused the moment it passes the size limit, never read whole into memory), then the probe
that decides whether it is audio we can use."""

from __future__ import annotations

import os
import unicodedata
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from tapeworks.audio.probe import AudioInfo, probe_audio, sniff_extension
from tapeworks.errors import BadRequest, PayloadTooLarge
from tapeworks.http.inputs import clean_text

MAX_FIELD_BYTES = 64 * 1024


@dataclass
class ReceivedUpload:
    path: Path | None = None
    filename: str = ""
    size: int = 0
    fields: dict[str, str] = field(default_factory=dict)

    def discard(self) -> None:
        if self.path is not None:
            self.path.unlink(missing_ok=True)


@dataclass(frozen=True)
class NewRecording:
    """A received audio file that passed the probe: what it is and how to store it."""

    path: Path
    filename: str
    info: AudioInfo
    ext: str  # from the real container, never from the user's file name

    @property
    def size_bytes(self) -> int:
        return self.path.stat().st_size


def probe_upload(path: Path, filename: str) -> NewRecording:
    """Probe a received file (InvalidAudio, a 415 naming the problem, when it is not audio)."""
    info = probe_audio(path, filename=filename)
    return NewRecording(path, filename, info, sniff_extension(info))


def clean_filename(name: str) -> str:
    """A display name safe anywhere: no directories, no control characters, bounded length."""
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in clean_text(name) if unicodedata.category(ch)[0] != "C")
    return name.strip().lstrip(".")[:200].rstrip() or "recording"


async def receive_upload(
    request: Request, scratch_dir: Path, *, max_bytes: int, file_field: str = "file"
) -> ReceivedUpload:
    """Parse a multipart body as it streams in. Raises PayloadTooLarge as soon as the file
    passes `max_bytes`, and BadRequest for a malformed body; no partial file is left."""
    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    if ctype != b"multipart/form-data" or b"boundary" not in params:
        raise BadRequest("send the recording as multipart/form-data with a 'file' field")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes + 1024 * 1024:
        raise PayloadTooLarge(
            f"the upload is {int(declared)} bytes; the limit is {max_bytes} bytes",
            details={"limit_bytes": max_bytes},
        )

    scratch_dir.mkdir(parents=True, exist_ok=True)
    result = ReceivedUpload()
    state: dict[str, Any] = {"headers": {}, "field": None, "name": None, "buf": bytearray(),
                             "file": None, "header_field": b"", "header_value": b""}
    out: dict[str, IO[bytes] | None] = {"fh": None}

    def on_part_begin() -> None:
        state["headers"] = {}
        state["name"] = None
        state["buf"] = bytearray()

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state["header_field"] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        state["header_value"] += data[start:end]

    def on_header_end() -> None:
        state["headers"][state["header_field"].lower()] = state["header_value"]
        state["header_field"] = b""
        state["header_value"] = b""

    def on_headers_finished() -> None:
        _disposition, opts = parse_options_header(state["headers"].get(b"content-disposition", b""))
        name = opts.get(b"name", b"").decode("utf-8", "replace")
        state["name"] = name
        if name == file_field:
            if result.path is not None:
                raise BadRequest("send exactly one file per upload")
            raw = opts.get(b"filename", b"")
            result.filename = clean_filename(raw.decode("utf-8", "replace"))
            result.path = scratch_dir / f"upload-{uuid.uuid4().hex}.part"
            out["fh"] = open(result.path, "wb")  # noqa: SIM115 - closed in on_part_end/finally

    def on_part_data(data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if state["name"] == file_field and out["fh"] is not None:
            result.size += len(chunk)
            if result.size > max_bytes:
                raise PayloadTooLarge(
                    f"the file is larger than the limit of {max_bytes} bytes",
                    details={"limit_bytes": max_bytes},
                )
            out["fh"].write(chunk)
        else:
            state["buf"] += chunk
            if len(state["buf"]) > MAX_FIELD_BYTES:
                raise BadRequest(f"form field {state['name']!r} is too long")

    def on_part_end() -> None:
        if state["name"] == file_field and out["fh"] is not None:
            out["fh"].flush()
            os.fsync(out["fh"].fileno())
            out["fh"].close()
            out["fh"] = None
        elif state["name"]:
            result.fields[state["name"]] = bytes(state["buf"]).decode("utf-8", "replace").strip()

    parser = MultipartParser(params[b"boundary"], {
        "on_part_begin": on_part_begin, "on_part_data": on_part_data, "on_part_end": on_part_end,
        "on_header_field": on_header_field, "on_header_value": on_header_value,
        "on_header_end": on_header_end, "on_headers_finished": on_headers_finished,
    })
    try:
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
    except (PayloadTooLarge, BadRequest):
        _abort(out, result)
        raise
    except Exception as exc:
        _abort(out, result)
        raise BadRequest("the multipart body could not be read: it is not valid "
                         "multipart/form-data") from exc
    if out["fh"] is not None:
        _abort(out, result)
        raise BadRequest("the upload ended before the file was complete")
    if result.path is None:
        raise BadRequest(f"no file: send the recording in a form field named {file_field!r}")
    return result


def _abort(out: dict[str, IO[bytes] | None], result: ReceivedUpload) -> None:
    fh = out.get("fh")
    if fh is not None:
        fh.close()
        out["fh"] = None
    result.discard()
