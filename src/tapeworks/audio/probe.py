"""Probing audio files (the one probe): `read_info` reads what the header says (cheap);
`probe_audio` verifies an upload before it is accepted: is it audio we can decode?

`probe_audio` opens the file with FFmpeg (restricted to local files and to known audio
and video container formats, so a playlist or concat script cannot make FFmpeg open
other files or URLs), picks the best audio stream and then *decodes every packet* of it,
keeping no frames (memory stays flat however long the recording is). It rejects, with an
`InvalidAudio` (415) whose message names the problem:

- an empty file ("the file is empty");
- anything FFmpeg cannot open as media, e.g. text renamed ``.mp3``
  ("... is not an audio file we can read");
- media without an audio stream ("... has no audio stream (video only?)");
- a truncated or corrupt file: nothing decodes, more than 1 % of packets fail to decode
  (one bad packet, typically a cut last frame, is tolerated), reading fails part-way, or
  the header promises clearly more audio than can be decoded (e.g. an mp3 whose Xing
  header counts 4 s of frames but which stops after 2 s, a FLAC whose STREAMINFO says
  more samples than the file holds).

What cannot be detected: a file cut exactly where its container does not record the full
length (a plain CBR mp3 without a Xing header, a WAV or Ogg cut anywhere): that is a
valid, shorter recording, and its decoded duration is what is reported.

Given the longest recording the caller accepts (`max_seconds`, the plan's per-recording
limit), the probe checks the header's declared duration against it before decoding and
stops decoding once the decoded length passes it, returning `over_limit=True`: a 100-hour
file of silence on a 60-minute plan costs at most 60 minutes of decoding, not 100 hours.

Otherwise the reported `duration_seconds` is always the decoded duration (samples / rate), not the
header's claim. The file's name is used only in messages; the stored extension comes from
`sniff_extension` (the real container), never from the user's file name.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import av

from tapeworks.audio.decode import count_samples
from tapeworks.errors import InvalidAudio

# Demuxers FFmpeg may use for uploads (names as FFmpeg spells them; mov covers mp4/m4a).
ALLOWED_FORMATS = (
    "wav,w64,rf64,flac,mp3,ogg,mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,aac,asf,aiff,amr,amrnb,"
    "amrwb,caf,au,ac3,eac3,dts,ape,wv,tta,mpc,mpc8,dsf,shn,mpeg,mpegts,avi,flv,voc,xwma,"
    "wsaud,gsm,g722,truehd,mlp,loas,latm,iff,oma,mp2"
)
_OPEN_OPTIONS = {"format_whitelist": ALLOWED_FORMATS, "protocol_whitelist": "file"}

# Truncation check: reject when the header claims this much more than could be decoded.
_MISSING_TOLERANCE_S = 0.5
_MISSING_TOLERANCE_RATIO = 0.02
# Decode errors tolerated: one packet, or 1 % of packets in long files.
_BAD_PACKET_RATIO = 0.01

# Decoder names → codec names users know.
_CODEC_ALIASES = {
    "mp3float": "mp3",
    "mp3": "mp3",
    "aac_fixed": "aac",
    "ac3_fixed": "ac3",
    "libopus": "opus",
    "libvorbis": "vorbis",
    "mp2float": "mp2",
}


@dataclass(frozen=True, slots=True)
class AudioInfo:
    """What we know of an audio file. From `probe_audio` the duration is the decoded one;
    from `read_info` it is the header's (decoded only when the header does not say)."""

    duration_seconds: float
    codec: str  # e.g. "mp3", "aac", "flac", "pcm_s16le", "opus"
    channels: int
    sample_rate: int  # Hz
    format_name: str  # FFmpeg demuxer name, e.g. "mp3", "wav", "mov,mp4,m4a,3gp,3g2,mj2"
    bit_rate: int | None = None  # container bit rate, bits/s, when known
    has_video: bool = False  # the container also has a video stream (e.g. a screen recording)
    # `probe_audio` only: seconds of audio it decoded, and whether it stopped because the
    # recording is longer than the `max_seconds` it was given. Then `duration_seconds` is a
    # lower bound (the header's claim, or what was decoded before stopping), already over
    # the limit, and the rest of the file was never decoded.
    decoded_seconds: float = 0.0
    over_limit: bool = False
    recorded_at: datetime | None = None  # the file's own recording date or time, when it has one


def read_info(path: Path) -> AudioInfo:
    """Rate, channels, codec and duration from the header of an already accepted file;
    decodes (streaming) only when the header gives no duration."""
    path = Path(path)
    if not path.is_file():
        raise InvalidAudio(f"{path.name} does not exist")
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise InvalidAudio(f"{path.name} has no audio stream")
            stream = container.streams.audio[0]
            ctx: Any = stream.codec_context
            rate, channels = int(stream.rate), int(stream.channels)
            declared = _declared_seconds(container, stream)
            codec = _CODEC_ALIASES.get(ctx.name, ctx.name)
            fmt = container.format.name
            bit_rate = container.bit_rate or None
    except av.FFmpegError as exc:
        raise InvalidAudio(f"{path.name} is not an audio file we can read") from exc
    duration = declared if declared is not None else count_samples(path, rate, channels) / rate
    return AudioInfo(duration, codec, channels, rate, fmt, int(bit_rate) if bit_rate else None)


def _label(path: Path, filename: str | None) -> str:
    return repr(filename) if filename else "the file"


def probe_audio(path: Path, *, filename: str | None = None,
                max_seconds: float | None = None) -> AudioInfo:
    """Check that `path` holds decodable audio and describe it; raise `InvalidAudio` if not.

    `filename` (the user's name for the upload) is only used in error messages.
    Cost: one full decode of the audio stream (for mp3/aac a few hundred times faster
    than real time on one core), constant memory.

    With `max_seconds` (the longest recording the caller will accept) a refusal costs time
    proportional to the limit, not to the file: a header that declares more than the limit
    stops the probe before any decoding, and the decode stops as soon as the decoded length
    passes the limit. Either way the result says `over_limit=True` and the caller refuses.
    """
    path = Path(path)
    label = _label(path, filename)
    size = path.stat().st_size  # a missing file is a caller bug: FileNotFoundError
    if size == 0:
        raise InvalidAudio(f"{label}: the file is empty", details={"problem": "empty"})
    try:
        container = av.open(str(path), mode="r", options=_OPEN_OPTIONS, metadata_errors="ignore")
    except (av.FFmpegError, OSError, ValueError, UnicodeDecodeError):
        # FFmpeg's own message names the server's scratch file: never shown.
        raise InvalidAudio(
            f"{label} is not an audio file we can read",
            details={"problem": "not_media"},
        ) from None
    with container:
        return _probe_open(container, label, max_seconds)


def _probe_open(container: av.container.InputContainer, label: str,
                max_seconds: float | None) -> AudioInfo:
    if not container.streams.audio:
        kinds: list[str] = sorted({str(s.type) for s in container.streams}) or ["no streams"]
        raise InvalidAudio(
            f"{label} has no audio stream (video only?); it contains: {', '.join(kinds)}",
            details={"problem": "no_audio_stream"},
        )
    stream = container.streams.best("audio") or container.streams.audio[0]
    ctx: Any = stream.codec_context
    declared = _declared_seconds(container, stream)

    def describe(duration: float, decoded: float, rate: int, channels: int,
                 over_limit: bool) -> AudioInfo:
        bit_rate = container.bit_rate or ctx.bit_rate or None
        return AudioInfo(
            duration_seconds=round(duration, 6),
            codec=_CODEC_ALIASES.get(ctx.name, ctx.name),
            channels=channels or ctx.channels,
            sample_rate=rate or ctx.sample_rate,
            format_name=container.format.name,
            bit_rate=int(bit_rate) if bit_rate else None,
            has_video=bool(container.streams.video)
            and any(not _is_cover_art(v) for v in container.streams.video),
            decoded_seconds=round(decoded, 6),
            over_limit=over_limit,
            recorded_at=recorded_at(dict(container.metadata or {})),
        )

    if max_seconds is not None and declared is not None and declared > max_seconds:
        # The header says it is too long: refused before a single packet is decoded.
        return describe(declared, 0.0, 0, 0, over_limit=True)

    samples = 0
    seconds = 0.0
    rate = 0
    channels = 0
    packets = 0
    bad = 0

    def count(frames: Iterable[Any]) -> None:
        # Only counts are kept; each frame is dropped at once (memory stays flat).
        nonlocal samples, seconds, rate, channels
        for frame in frames:
            samples += frame.samples
            if frame.sample_rate:
                seconds += frame.samples / frame.sample_rate
                rate = frame.sample_rate
            channels = channels or frame.layout.nb_channels

    try:
        for packet in container.demux(stream):
            if packet.size == 0:
                continue  # the flush packet demux() adds at the end
            packets += 1
            try:
                frames = packet.decode()
            except av.FFmpegError:
                bad += 1
                continue
            count(frames)
            if max_seconds is not None and seconds > max_seconds:
                # Longer than the caller accepts: stop here, the rest is never decoded.
                return describe(max(seconds, declared or 0.0), seconds, rate, channels,
                                over_limit=True)
        with contextlib.suppress(av.FFmpegError):
            count(ctx.decode(None))  # drain the decoder
    except av.FFmpegError:
        raise InvalidAudio(
            f"{label} is truncated or corrupt: reading failed after {seconds:.1f} s of audio",
            details={"problem": "corrupt", "decoded_seconds": round(seconds, 3)},
        ) from None

    if samples == 0 or seconds <= 0:
        raise InvalidAudio(
            f"{label} is truncated or corrupt: no audio could be decoded from it",
            details={"problem": "no_samples", "packets": packets, "bad_packets": bad},
        )
    if bad > max(1, int(packets * _BAD_PACKET_RATIO)):
        raise InvalidAudio(
            f"{label} is truncated or corrupt: {bad} of {packets} audio packets could not be "
            "decoded",
            details={"problem": "corrupt", "packets": packets, "bad_packets": bad},
        )
    if declared is not None and declared - seconds > max(
        _MISSING_TOLERANCE_S, declared * _MISSING_TOLERANCE_RATIO
    ):
        raise InvalidAudio(
            f"{label} is truncated or corrupt: its header says {declared:.1f} s but only "
            f"{seconds:.1f} s of audio could be decoded",
            details={
                "problem": "truncated",
                "declared_seconds": round(declared, 3),
                "decoded_seconds": round(seconds, 3),
            },
        )

    if max_seconds is not None and seconds > max_seconds:  # the drained tail passed it
        return describe(seconds, seconds, rate, channels, over_limit=True)
    return describe(seconds, seconds, rate, channels, over_limit=False)


# Tags that say when a recording was made: MP4/MOV creation_time, ID3 TDRC/TDOR ("date"),
# Vorbis and FLAC DATE, WAV INFO ICRD ("date"), Broadcast WAV origination date and time.
_DATE_TAGS = ("creation_time", "date", "originationdate", "recording_date", "tdrc", "icrd",
              "date_recorded", "tdor")


def recorded_at(tags: dict[str, Any]) -> datetime | None:
    """The recording date or time its tags state (UTC when they give no zone), if any."""
    lowered = {str(k).lower(): str(v) for k, v in tags.items() if v}
    for name in _DATE_TAGS:
        value = lowered.get(name, "").strip()
        if not value:
            continue
        if name == "originationdate" and lowered.get("originationtime"):
            value = f"{value}T{lowered['originationtime'].replace('-', ':')}"
        parsed = _parse_when(value)
        if parsed is not None:
            return parsed
    return None


def _parse_when(value: str) -> datetime | None:
    text = value.strip().replace("Z", "+00:00").replace(" ", "T", 1)
    for candidate in (text, text[:19], text[:10]):
        try:
            when = datetime.fromisoformat(candidate)
        except ValueError:
            continue
        if not 1990 <= when.year <= 2100:  # 1970/1904 epoch zeros mean "unknown"
            return None
        return when if when.tzinfo else when.replace(tzinfo=UTC)
    return None


def _is_cover_art(stream: av.stream.Stream) -> bool:
    # Album art in mp3/m4a/flac shows up as a one-picture video stream.
    disposition = getattr(stream, "disposition", None)
    try:
        return bool(disposition is not None and disposition & av.stream.Disposition.attached_pic)
    except (AttributeError, TypeError):
        return False


def _declared_seconds(
    container: av.container.InputContainer, stream: av.stream.Stream
) -> float | None:
    """What the header says the audio stream lasts, when it says anything."""
    if stream.duration is not None and stream.time_base is not None and stream.duration > 0:
        return float(stream.duration * stream.time_base)
    if container.duration is not None and container.duration > 0:
        return container.duration / av.time_base
    return None


# Container (FFmpeg demuxer name) → the extension we store it under.
_EXT_BY_FORMAT = {
    "wav": "wav",
    "w64": "w64",
    "rf64": "wav",
    "flac": "flac",
    "aiff": "aiff",
    "caf": "caf",
    "au": "au",
    "aac": "aac",
    "asf": "wma",
    "amr": "amr",
    "amrnb": "amr",
    "amrwb": "amr",
    "ac3": "ac3",
    "eac3": "eac3",
    "dts": "dts",
    "ape": "ape",
    "wv": "wv",
    "tta": "tta",
    "mpc": "mpc",
    "mpc8": "mpc",
    "dsf": "dsf",
    "shn": "shn",
    "mpeg": "mpg",
    "mpegts": "ts",
    "avi": "avi",
    "flv": "flv",
    "voc": "voc",
    "gsm": "gsm",
    "g722": "g722",
    "oma": "oma",
    "truehd": "thd",
    "mlp": "mlp",
    "loas": "latm",
    "latm": "latm",
    "iff": "iff",
    "xwma": "xwma",
}


def sniff_extension(info: AudioInfo) -> str:
    """The extension (no dot, lowercase, ≤5 chars) for storing a probed file.

    Chosen from the real container and codec, never from the user's file name: a WAV
    named ``talk.mp3`` is stored as ``source.wav``.
    """
    names = info.format_name.split(",")
    first = names[0]
    codec = info.codec
    if first == "mp3":
        return "mp2" if codec in ("mp2", "mp1") else "mp3"
    if first == "ogg":
        return "opus" if codec == "opus" else "ogg"
    if first == "mov" or "mp4" in names:
        return "mp4" if info.has_video else "m4a"
    if first in ("matroska", "webm"):
        if info.has_video:
            return "webm" if codec in ("opus", "vorbis") else "mkv"
        return "webm" if codec in ("opus", "vorbis") else "mka"
    if first == "asf":
        return "wmv" if info.has_video else "wma"
    if first in _EXT_BY_FORMAT:
        return _EXT_BY_FORMAT[first]
    if first.isalnum() and first.islower() and len(first) <= 5:
        return first
    return "bin"
