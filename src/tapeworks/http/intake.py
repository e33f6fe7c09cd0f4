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
class ReceivedFile:
    path: Path
    filename: str
    size: int = 0


@dataclass
class ReceivedUpload:
    """The files (in the order they came) and the form fields of an upload. `fields` has
    each field's last value, `field_lists` every value (a field sent once per file, such as
    `track_names`). `path`, `filename` and `size` are the first file's."""

    files: list[ReceivedFile] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)
    field_lists: dict[str, list[str]] = field(default_factory=dict)

    @property
    def path(self) -> Path | None:
        return self.files[0].path if self.files else None

    @property
    def filename(self) -> str:
        return self.files[0].filename if self.files else ""

    @property
    def size(self) -> int:
        return self.files[0].size if self.files else 0

    @property
    def total_size(self) -> int:
        return sum(f.size for f in self.files)

    def discard(self) -> None:
        for f in self.files:
            f.path.unlink(missing_ok=True)


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

    @property
    def length_is_lower_bound(self) -> bool:
        """The probe stopped decoding at the caller's limit: the real length is unknown,
        longer than `info.duration_seconds`."""
        return self.info.over_limit and self.info.decoded_seconds >= self.info.duration_seconds


def probe_upload(path: Path, filename: str, *, max_seconds: float | None = None) -> NewRecording:
    """Probe a received file (InvalidAudio, a 415 naming the problem, when it is not audio).

    With `max_seconds` (the caller's longest accepted recording) the probe refuses to decode
    past it: `info.over_limit` says the file is longer, and the caller refuses it."""
    info = probe_audio(path, filename=filename, max_seconds=max_seconds)
    return NewRecording(path, filename, info, sniff_extension(info))


def clean_filename(name: str) -> str:
    """A display name safe anywhere: no directories, no control characters, bounded length."""
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in clean_text(name) if unicodedata.category(ch)[0] != "C")
    return name.strip().lstrip(".")[:200].rstrip() or "recording"


async def receive_upload(
    request: Request, scratch_dir: Path, *, max_bytes: int, file_field: str = "file",
    max_files: int = 1,
) -> ReceivedUpload:
    """Parse a multipart body as it streams in. Raises PayloadTooLarge as soon as the files
    together pass `max_bytes`, and BadRequest for a malformed body or more than `max_files`
    files; no partial file is left."""
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
            if len(result.files) >= max_files:
                raise BadRequest("send exactly one file per upload" if max_files == 1 else
                                 f"send at most {max_files} files in one upload")
            raw = opts.get(b"filename", b"")
            received = ReceivedFile(scratch_dir / f"upload-{uuid.uuid4().hex}.part",
                                    clean_filename(raw.decode("utf-8", "replace")))
            result.files.append(received)
            out["fh"] = open(received.path, "wb")  # noqa: SIM115 - closed in on_part_end/finally

    def on_part_data(data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if state["name"] == file_field and out["fh"] is not None:
            result.files[-1].size += len(chunk)
            if result.total_size > max_bytes:
                raise PayloadTooLarge(
                    f"the file is larger than the limit of {max_bytes} bytes" if max_files == 1
                    else f"the files together are larger than the limit of {max_bytes} bytes",
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
            value = bytes(state["buf"]).decode("utf-8", "replace").strip()
            result.fields[state["name"]] = value
            result.field_lists.setdefault(state["name"], []).append(value)

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
    if not result.files:
        raise BadRequest(f"no file: send the recording in a form field named {file_field!r}")
    return result


def _abort(out: dict[str, IO[bytes] | None], result: ReceivedUpload) -> None:
    fh = out.get("fh")
    if fh is not None:
        fh.close()
        out["fh"] = None
    result.discard()
