"""Streaming encode to MP3 (LAME), M4A (AAC, PyAV) or WAV (libsndfile), written atomically.

The encoder writes to a hidden temporary file next to the target and renames it into
place only after the container is closed and the tags are written, so a reader never
sees a half-written file at the final path; on any error the temporary file is removed.
MP3 is encoded by LAME (lameenc) in an encoder process beside the render (mp3.py): LAME
is the slowest stage, and on its own process it runs on the second core. M4A and WAV are
encoded on their own thread fed through a small bounded queue.

Tags: MP3 gets ID3v2 title (TIT2), album/show (TALB), artist (TPE1) and chapters
(CHAP frames under a top-level ordered CTOC) with mutagen. M4A gets the same text
metadata and chapters through FFmpeg's MP4 muxer (Nero/QuickTime chapter track).
WAV gets INFO title/album/artist from libsndfile and no chapters.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import soundfile as sf
from mutagen.id3 import CHAP, CTOC, ID3, TALB, TIT2, TPE1, CTOCFlags, ID3NoHeaderError

from tapeworks.audio.decode import Block, rechunk
from tapeworks.errors import ValidationFailed
from tapeworks.production.mp3 import encode_mp3

_CODECS = {"mp3": ("mp3", "libmp3lame"), "m4a": ("mp4", "aac"), "wav": ("wav", "pcm_s16le")}
_QUEUE_BLOCKS = 4
_DONE = object()


@dataclass(frozen=True)
class Tags:
    title: str | None = None
    show: str | None = None
    artist: str | None = None
    chapters: Sequence[tuple[float, str]] = ()  # (start seconds, title), episode time


@dataclass(frozen=True)
class EncodeResult:
    path: Path
    samples: int
    duration_seconds: float


def temp_path_for(final: Path) -> Path:
    return final.with_name(f".{final.name}.{uuid.uuid4().hex[:8]}.part")


def encode(
    blocks: Iterable[Block],
    out_path: Path,
    *,
    fmt: str,
    rate: int,
    channels: int,
    bitrate: int = 128000,
    mp3_quality: int = 5,
    tags: Tags | None = None,
) -> EncodeResult:
    """Encode a block stream to `out_path`; the file appears there only when complete."""
    if fmt not in _CODECS:
        raise ValidationFailed(f"unknown output format {fmt!r}")
    tags = tags or Tags()
    tmp = temp_path_for(out_path)
    try:
        if fmt == "mp3":
            samples = encode_mp3(
                blocks, tmp, rate=rate, channels=channels, bitrate=bitrate, quality=mp3_quality
            )
        else:
            samples = _encode_threaded(blocks, tmp, fmt, rate, channels, bitrate, mp3_quality, tags)
        if fmt == "mp3":
            write_id3(tmp, tags, samples / rate)
        os.replace(tmp, out_path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    return EncodeResult(out_path, samples, samples / rate)


def _encode_threaded(
    blocks: Iterable[Block],
    tmp: Path,
    fmt: str,
    rate: int,
    channels: int,
    bitrate: int,
    mp3_quality: int,
    tags: Tags,
) -> int:
    q: queue.Queue[object] = queue.Queue(maxsize=_QUEUE_BLOCKS)
    errors: list[BaseException] = []
    stop = threading.Event()
    total = [0]

    def consume() -> None:
        try:
            total[0] = _encode_from_queue(
                q, stop, tmp, fmt, rate, channels, bitrate, mp3_quality, tags
            )
        except BaseException as exc:  # handed to the producer thread, re-raised there
            errors.append(exc)
            stop.set()

    worker = threading.Thread(target=consume, name="tapeworks-encoder", daemon=True)
    worker.start()
    try:
        for block in blocks:
            _put(q, block, stop)
            if errors:
                break
    except BaseException:
        stop.set()
        raise
    finally:
        if not stop.is_set():
            _put(q, _DONE, stop)
        worker.join()
    if errors:
        raise errors[0]
    return total[0]


def _put(q: queue.Queue[object], item: object, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            q.put(item, timeout=0.1)
            return
        except queue.Full:
            continue


def _items(q: queue.Queue[object], stop: threading.Event) -> Iterable[Block]:
    while True:
        try:
            item = q.get(timeout=0.1)
        except queue.Empty:
            if stop.is_set():
                raise InterruptedError("rendering stopped before the end of the stream") from None
            continue
        if item is _DONE:
            return
        if stop.is_set():
            raise InterruptedError("rendering stopped before the end of the stream")
        assert isinstance(item, np.ndarray)
        yield item


def _encode_from_queue(
    q: queue.Queue[object],
    stop: threading.Event,
    tmp: Path,
    fmt: str,
    rate: int,
    channels: int,
    bitrate: int,
    mp3_quality: int,
    tags: Tags,
) -> int:
    if fmt == "wav":
        return _wav_from_queue(q, stop, tmp, rate, channels, tags)
    container_fmt, codec = _CODECS[fmt]
    layout = "stereo" if channels == 2 else "mono"
    with av.open(str(tmp), "w", format=container_fmt) as out:
        for key, value in (("title", tags.title), ("album", tags.show), ("artist", tags.artist)):
            if value:
                out.metadata[key] = value
        options = {"compression_level": str(mp3_quality)} if fmt == "mp3" else {}
        stream = out.add_stream(codec, rate=rate, layout=layout, options=options)
        assert isinstance(stream, av.audio.stream.AudioStream)
        stream.bit_rate = bitrate
        if fmt == "m4a" and tags.chapters:
            out.set_chapters(_mp4_chapters(tags.chapters))  # type: ignore[arg-type]
        chunks = rechunk(_items(q, stop), _FRAME_SIZE[fmt])
        samples = 0
        for chunk in chunks:
            frame = _frame(chunk, fmt, layout, rate)
            frame.pts = samples
            frame.time_base = Fraction(1, rate)
            samples += chunk.shape[1]
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return samples


_FRAME_SIZE = {"mp3": 1152, "m4a": 1024}


def _wav_from_queue(
    q: queue.Queue[object], stop: threading.Event, tmp: Path, rate: int, channels: int, tags: Tags
) -> int:
    """16-bit PCM WAV through libsndfile (title, show and artist in its INFO chunk): the
    samples rounded and clipped in place, interleaved into one reused buffer, written
    without the interpreter lock."""
    samples = 0
    scaled = np.empty(0, np.float32)
    planar, pcm = np.empty(0, np.int16), np.empty(0, np.int16)
    with sf.SoundFile(
        str(tmp), "w", samplerate=rate, channels=channels, format="WAV", subtype="PCM_16"
    ) as out:
        for key, value in (("title", tags.title), ("album", tags.show), ("artist", tags.artist)):
            if value:
                setattr(out, key, value)
        for chunk in _items(q, stop):
            n = chunk.shape[1]
            if scaled.size < chunk.size:
                scaled = np.empty(chunk.size, np.float32)
                planar, pcm = np.empty(chunk.size, np.int16), np.empty(chunk.size, np.int16)
            x = scaled[: chunk.size].reshape(chunk.shape)
            np.multiply(chunk, np.float32(32768.0), out=x)
            np.rint(x, out=x)
            np.clip(x, -32768, 32767, out=x)
            per_channel = planar[: chunk.size].reshape(chunk.shape)
            np.copyto(per_channel, x, casting="unsafe")
            interleaved = pcm[: chunk.size].reshape(n, channels)
            for c in range(channels):  # a column at a time (a transposed copy is slower)
                interleaved[:, c] = per_channel[c]
            out.write(interleaved)
            samples += n
    return samples


def _frame(chunk: Block, fmt: str, layout: str, rate: int) -> av.AudioFrame:
    frame = av.AudioFrame.from_ndarray(
        np.ascontiguousarray(chunk, np.float32), format="fltp", layout=layout
    )
    frame.sample_rate = rate
    return frame


def _mp4_chapters(chapters: Sequence[tuple[float, str]]) -> list[dict[str, object]]:
    ordered = sorted(chapters)
    out: list[dict[str, object]] = []
    for i, (start, title) in enumerate(ordered):
        end = ordered[i + 1][0] if i + 1 < len(ordered) else start + 1e6
        out.append(
            {
                "id": i + 1,
                "start": round(start * 1000),
                "end": round(end * 1000),
                "time_base": Fraction(1, 1000),
                "metadata": {"title": title},
            }
        )
    return out


def write_id3(path: Path, tags: Tags, duration: float) -> None:
    """ID3v2 title/show/artist and CHAP/CTOC chapter frames (times in ms)."""
    try:
        id3 = ID3(str(path))
    except ID3NoHeaderError:
        id3 = ID3()
    if tags.title:
        id3.setall("TIT2", [TIT2(encoding=3, text=[tags.title])])
    if tags.show:
        id3.setall("TALB", [TALB(encoding=3, text=[tags.show])])
    if tags.artist:
        id3.setall("TPE1", [TPE1(encoding=3, text=[tags.artist])])
    ordered = sorted(tags.chapters)
    if ordered:
        ids = [f"chp{i}" for i in range(len(ordered))]
        end_ms = round(duration * 1000)
        for i, (start, title) in enumerate(ordered):
            stop = round(ordered[i + 1][0] * 1000) if i + 1 < len(ordered) else end_ms
            id3.add(
                CHAP(
                    element_id=ids[i],
                    start_time=round(start * 1000),
                    end_time=stop,
                    sub_frames=[TIT2(encoding=3, text=[title])],
                )
            )
        id3.add(
            CTOC(
                element_id="toc",
                flags=CTOCFlags.TOP_LEVEL | CTOCFlags.ORDERED,
                child_element_ids=ids,
                sub_frames=[TIT2(encoding=3, text=["Chapters"])],
            )
        )
    id3.save(str(path), v2_version=4)
