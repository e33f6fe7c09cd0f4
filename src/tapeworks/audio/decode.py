"""Decoding audio files with PyAV into bounded float32 blocks (the one decoder).

A *block stream* is an iterator of float32 arrays shaped (channels, samples), every block
at most the requested size, so no stage ever holds more than a few blocks whatever the
file's length (DESIGN rule 11). Production renders from `decode_blocks` at its output rate;
the speech pipeline reads 16 kHz mono `AudioChunk`s from `iter_chunks`, built on the same
decoder.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import av
import numpy as np
import soundfile as sf
import soxr

from tapeworks.errors import InvalidAudio

Block = np.ndarray  # float32, shape (channels, samples)
T = TypeVar("T")

SPEECH_RATE = 16_000  # what the speech engines, VAD and speaker embeddings take
DEFAULT_CHUNK_SECONDS = 10.0

_INT_SCALE = {"s16": 32768.0, "s16p": 32768.0, "s32": 2147483648.0, "s32p": 2147483648.0}
_FLOAT_FORMATS = {"flt", "fltp", "dbl", "dblp"}


def _open(path: Path) -> av.container.InputContainer:
    if not path.is_file():
        raise InvalidAudio(f"{path.name} does not exist")
    if path.stat().st_size == 0:
        raise InvalidAudio(f"{path.name} is empty")
    try:
        container = av.open(str(path))
    except (av.FFmpegError, ValueError, OSError) as exc:
        raise InvalidAudio(f"{path.name} is not a readable audio file") from exc
    if not container.streams.audio:
        container.close()
        raise InvalidAudio(f"{path.name} has no audio stream")
    return container


def _damaged(path: Path) -> InvalidAudio:
    return InvalidAudio(f"{path.name} could not be decoded: it is damaged")


def count_samples(path: Path, rate: int, channels: int) -> int:
    """Exact number of samples after decoding at `rate` (streaming)."""
    return sum(b.shape[1] for b in decode_blocks(path, rate, channels, rate * 5))


def decode_blocks(path: Path, rate: int, channels: int, block_samples: int) -> Iterator[Block]:
    """Decode the first audio stream at `rate` Hz and `channels` channels, in blocks."""
    direct = _lossless_reader(Path(path), rate)
    if direct is not None:
        return _read_lossless(direct, Path(path), channels, block_samples)
    return rechunk(_decoded_frames(path, rate, channels), block_samples)


# Uncompressed and lossless containers libsndfile reads sample-exactly, as FFmpeg does
# (no encoder delay or padding to account for): read through it, without the
# interpreter lock, when no resampling is needed. Everything else goes through PyAV.
_LOSSLESS = {"WAV", "WAVEX", "W64", "RF64", "AIFF", "FLAC"}


def _lossless_reader(path: Path, rate: int | None) -> sf.SoundFile | None:
    """The file opened by libsndfile when it is lossless, of one or two channels and at
    `rate` (any rate when None); None when PyAV must decode it."""
    try:
        f = sf.SoundFile(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError, OSError):
        return None
    wrong_rate = rate is not None and f.samplerate != rate
    # a length it knows and a position it can seek to, or the excerpts could come out
    # empty (a stream written without its length): PyAV then decodes from the start
    known = f.seekable() and 0 < f.frames < 2**62
    if f.format not in _LOSSLESS or wrong_rate or not 1 <= f.channels <= 2 or not known:
        f.close()
        return None
    return f


def _read_lossless(
    f: sf.SoundFile, path: Path, channels: int, block_samples: int
) -> Iterator[Block]:
    # integer samples are read as integers and scaled in one pass (exact: they fit
    # float32's mantissa), as PyAV's frames are (frame_to_float)
    dtype, scale = _LOSSLESS_READ.get(f.subtype, ("float32", None))
    with f:
        while True:
            try:
                data = f.read(block_samples, dtype=dtype, always_2d=True)
            except (sf.LibsndfileError, RuntimeError) as exc:
                raise _damaged(path) from exc
            if not len(data):
                return
            block = np.empty((data.shape[1], data.shape[0]), np.float32)
            if scale is None:
                block[...] = data.T
            else:
                np.multiply(data.T, scale, out=block)
            yield _match_channels(block, channels)


_LOSSLESS_READ = {
    "PCM_S8": ("int16", np.float32(1 / 32768)),
    "PCM_U8": ("int16", np.float32(1 / 32768)),
    "PCM_16": ("int16", np.float32(1 / 32768)),
    "PCM_24": ("int32", np.float32(1 / 2147483648)),
    "PCM_32": ("int32", np.float32(1 / 2147483648)),
}


def _decoded_frames(path: Path, rate: int, channels: int) -> Iterator[Block]:
    layout = "stereo" if channels == 2 else "mono"
    with _open(path) as container:
        stream = container.streams.audio[0]
        resampler: av.AudioResampler | None = None
        try:
            for frame in container.decode(stream):
                if (
                    resampler is None
                    and frame.sample_rate == rate
                    and frame.layout.nb_channels <= 2
                ):
                    yield _match_channels(frame_to_float(frame), channels)
                    continue
                if resampler is None:
                    # up to two channels are resampled as they are and then matched like
                    # the frames at the right rate (FFmpeg's upmix would lower a mono
                    # source by 3 dB in stereo); more are downmixed by FFmpeg
                    own = frame.layout.nb_channels
                    resampler = av.AudioResampler(
                        format="fltp",
                        layout=layout if own > 2 else ("stereo" if own == 2 else "mono"),
                        rate=rate,
                    )
                for out in resampler.resample(frame):
                    yield _match_channels(frame_to_float(out), channels)
            if resampler is not None:
                for out in resampler.resample(None):
                    yield _match_channels(frame_to_float(out), channels)
        except av.FFmpegError as exc:
            raise _damaged(path) from exc


def frame_to_float(frame: av.AudioFrame) -> Block:
    """A decoded frame as float32 (channels, samples), exactly (no dither, no resampling)."""
    fmt = frame.format.name
    channels = frame.layout.nb_channels
    data = frame.to_ndarray()
    if not frame.format.is_planar:
        data = data.reshape(-1, channels).T
    if fmt in _FLOAT_FORMATS:
        return np.ascontiguousarray(data, dtype=np.float32)
    if fmt in _INT_SCALE:
        # exact: 16-bit and 24-bit (in s32) values fit float32's 24-bit mantissa
        out = data.astype(np.float32)
        out *= np.float32(1.0 / _INT_SCALE[fmt])
        return out
    if fmt in ("u8", "u8p"):
        return ((data.astype(np.float32) - 128.0) / 128.0).astype(np.float32)
    raise InvalidAudio(f"unsupported sample format {fmt}")


def _match_channels(block: Block, channels: int) -> Block:
    if block.shape[0] == channels:
        return block
    if channels == 1:
        return block.mean(axis=0, keepdims=True, dtype=np.float32)
    return np.repeat(block[:1], channels, axis=0)


def rechunk(blocks: Iterable[Block], block_samples: int) -> Iterator[Block]:
    """Re-cut a block stream into blocks of exactly `block_samples` (the last may be shorter)."""
    pending: list[Block] = []
    pending_len = 0
    for block in blocks:
        if block.shape[1] == 0:
            continue
        pending.append(block)
        pending_len += block.shape[1]
        if pending_len < block_samples:
            continue
        joined = pending[0] if len(pending) == 1 else np.concatenate(pending, axis=1)
        start = 0
        while pending_len - start >= block_samples:
            yield joined[:, start : start + block_samples]
            start += block_samples
        rest = joined[:, start:]
        pending = [rest] if rest.shape[1] else []
        pending_len = rest.shape[1]
    if pending_len:
        yield pending[0] if len(pending) == 1 else np.concatenate(pending, axis=1)


class BlockReader:
    """Pull samples from a block stream by count: read, peek and skip.

    Holds at most one incoming block plus the samples asked for, and records the
    largest amount it ever held (`max_buffered`) so tests can check memory bounds.
    """

    def __init__(self, blocks: Iterable[Block], channels: int) -> None:
        self._it = iter(blocks)
        self.channels = channels
        self._buf: list[Block] = []
        self._buf_len = 0
        self.position = 0  # samples consumed so far
        self.exhausted = False
        self.max_buffered = 0

    def _fill(self, n: int) -> None:
        while self._buf_len < n and not self.exhausted:
            try:
                block = next(self._it)
            except StopIteration:
                self.exhausted = True
                return
            self._buf.append(block)
            self._buf_len += block.shape[1]
            self.max_buffered = max(self.max_buffered, self._buf_len)

    def _take(self, n: int, consume: bool) -> Block:
        self._fill(n)
        n = min(n, self._buf_len)
        if n == 0:
            return np.zeros((self.channels, 0), np.float32)
        if len(self._buf) > 1 and self._buf[0].shape[1] < n:
            self._buf = [np.concatenate(self._buf, axis=1)]
        head = self._buf[0]
        out = head[:, :n]
        if consume:
            rest = head[:, n:]
            self._buf = ([rest] if rest.shape[1] else []) + self._buf[1:]
            self._buf_len -= n
            self.position += n
        return out

    def read(self, n: int) -> Block:
        """Up to `n` samples (fewer only at the end of the stream)."""
        return self._take(n, consume=True)

    def read_some(self, n: int) -> Block:
        """Up to `n` samples from the block at hand, without joining blocks (no copy):
        fewer than `n` when that block ends first, none only at the end of the stream."""
        self._fill(1)
        if not self._buf:
            return np.zeros((self.channels, 0), np.float32)
        return self._take(min(n, self._buf[0].shape[1]), consume=True)

    def peek(self, n: int) -> Block:
        return self._take(n, consume=False)

    def skip(self, n: int) -> None:
        while n > 0:
            self._fill(1)
            if self._buf_len == 0:
                return
            head = self._buf[0]
            k = min(n, head.shape[1])
            self._buf = ([head[:, k:]] if head.shape[1] > k else []) + self._buf[1:]
            self._buf_len -= k
            self.position += k
            n -= k


# --- speech: 16 kHz mono chunks ----------------------------------------------------------------
@dataclass(frozen=True)
class AudioChunk:
    """A block of decoded mono audio: `samples` start at `start` seconds in the file."""

    start: float
    samples: np.ndarray  # float32, mono
    rate: int = SPEECH_RATE

    @property
    def duration(self) -> float:
        return len(self.samples) / self.rate

    @property
    def end(self) -> float:
        return self.start + self.duration


def iter_chunks(
    path: str | Path, chunk_seconds: float = DEFAULT_CHUNK_SECONDS, rate: int = SPEECH_RATE
) -> Iterator[AudioChunk]:
    """Consecutive mono chunks of `chunk_seconds` (the last one may be shorter).

    Raises InvalidAudio when the file cannot be opened or holds no decodable audio.
    """
    path = Path(path)
    chunk_len = max(1, round(chunk_seconds * rate))
    emitted = 0
    for block in decode_blocks(path, rate, 1, chunk_len):
        yield AudioChunk(emitted / rate, np.ascontiguousarray(block[0]), rate)
        emitted += block.shape[1]
    if emitted == 0:
        raise InvalidAudio(f"{path.name} contains no decodable audio")


def read_all(path: str | Path, rate: int = SPEECH_RATE) -> np.ndarray:
    """Whole file as one mono array. Only for short clips (tests, benchmarks)."""
    parts = [c.samples for c in iter_chunks(path, rate=rate)]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)


def write_wav(path: str | Path, samples: np.ndarray, rate: int = SPEECH_RATE) -> None:
    """Write mono float samples as 16-bit PCM WAV (tests, benchmarks, fixtures)."""
    import wave

    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm.tobytes())


def decode_excerpts(
    path: str | Path, zones: Sequence[tuple[float, float]]
) -> Iterator[tuple[float, np.ndarray]]:
    """(start seconds, 16 kHz mono float32 samples) of each zone (sorted, disjoint): the
    parts of a recording that production checks against voice activity before cutting.

    One sequential pass, so positions count the source's samples exactly as the
    renderer's decoder does; frames outside every zone are decoded but never converted.
    Each zone's frames go through their own resampler (FFmpeg's, as for transcription),
    whose sample grid starts at the first frame of the zone: within 1/16000 s of a
    whole-file decode, far below the 10 ms frames the analysis works in.
    """
    path = Path(path)
    if not zones:
        return
    direct = _lossless_reader(path, None)
    if direct is not None:
        yield from _lossless_excerpts(direct, path, zones)
        return
    with _open(path) as container:
        stream = container.streams.audio[0]
        rate = int(stream.rate)
        position = 0  # samples of the source decoded so far
        k = 0
        excerpt: _Excerpt | None = None
        try:
            for frame in container.decode(stream):
                lo = position
                position += frame.samples
                while k < len(zones):
                    z0, z1 = zones[k]
                    if lo >= round(z1 * rate):  # the zone is complete
                        yield _finish(excerpt, z0, z1)
                        excerpt, k = None, k + 1
                        continue
                    if position > round(z0 * rate):
                        if excerpt is None:
                            excerpt = _Excerpt(lo / rate)
                        excerpt.add(frame)
                    break
                if k >= len(zones):
                    break
        except av.FFmpegError as exc:
            raise _damaged(path) from exc
        for z0, z1 in zones[k:]:  # zones reaching the end of the audio
            yield _finish(excerpt, z0, z1)
            excerpt = None


def excerpts_seekable(path: str | Path) -> bool:
    """Whether `decode_excerpts` reads this file at each zone's position (lossless, read
    by libsndfile) instead of decoding it from the start: its zones can then be read in
    separate calls, in parallel, at no extra cost."""
    f = _lossless_reader(Path(path), None)
    if f is None:
        return False
    f.close()
    return True


def _lossless_excerpts(
    f: sf.SoundFile, path: Path, zones: Sequence[tuple[float, float]]
) -> Iterator[tuple[float, np.ndarray]]:
    """Each zone read at its own position (the file is lossless: positions are exact),
    mixed to mono and resampled by soxr, all without the interpreter lock."""
    with f:
        rate = f.samplerate
        for z0, z1 in zones:
            a, b = round(z0 * rate), min(round(z1 * rate), f.frames)
            if b <= a:
                yield z0, np.zeros(0, np.float32)
                continue
            try:
                f.seek(a)
                data = f.read(b - a, dtype="float32", always_2d=True)
            except (sf.LibsndfileError, RuntimeError) as exc:
                raise _damaged(path) from exc
            mono = data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0]
            if rate != SPEECH_RATE:
                mono = soxr.resample(mono, rate, SPEECH_RATE)
            want = round((z1 - z0) * SPEECH_RATE)
            yield z0, np.ascontiguousarray(mono[:want], np.float32)


class _Excerpt:
    def __init__(self, start: float) -> None:
        self.start = start
        self.parts: list[np.ndarray] = []
        self.resampler = av.AudioResampler(format="flt", layout="mono", rate=SPEECH_RATE)

    def add(self, frame: av.AudioFrame) -> None:
        frame.pts = None  # frames of one zone are contiguous; no timestamps needed
        for out in self.resampler.resample(frame):
            self.parts.append(out.to_ndarray().reshape(-1))

    def samples(self) -> np.ndarray:
        for out in self.resampler.resample(None):
            self.parts.append(out.to_ndarray().reshape(-1))
        return np.concatenate(self.parts) if self.parts else np.zeros(0, np.float32)


def _finish(excerpt: _Excerpt | None, z0: float, z1: float) -> tuple[float, np.ndarray]:
    if excerpt is None:
        return z0, np.zeros(0, np.float32)
    data = excerpt.samples()
    a = max(0, round((z0 - excerpt.start) * SPEECH_RATE))
    return z0, data[a : a + round((z1 - z0) * SPEECH_RATE)].astype(np.float32, copy=False)


_END = object()


def prefetched(items: Iterable[T], depth: int = 2) -> Iterator[T]:
    """`items` produced on a thread of their own, at most `depth` ahead of the consumer:
    decoding (FFmpeg runs without the interpreter lock) overlaps the work done on what it
    decoded. An error on the thread is raised here; a consumer that stops early stops it."""
    q: queue.Queue[object] = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()
    failure: list[BaseException] = []

    def run() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
        except BaseException as exc:  # handed to the consumer
            failure.append(exc)
        finally:
            close = getattr(items, "close", None)
            if stop.is_set() and close is not None:
                close()
            while not stop.is_set():
                try:
                    q.put(_END, timeout=0.1)
                    break
                except queue.Full:
                    continue

    thread = threading.Thread(target=run, name="tapeworks-decode", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is _END:
                break
            yield item  # type: ignore[misc]
        if failure:
            raise failure[0]
    finally:
        stop.set()
        thread.join()
