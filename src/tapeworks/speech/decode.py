"""Decode any audio file to 16 kHz mono float32, in bounded chunks.

PyAV (bundled FFmpeg) reads wav, flac, mp3, ogg, opus, m4a, ... The whole file is never
held in memory: `iter_chunks` yields fixed-size blocks, so a 3-hour recording needs no
more memory than a 3-minute one (DESIGN rule 11).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from tapeworks.errors import InvalidAudio

SAMPLE_RATE = 16_000
DEFAULT_CHUNK_SECONDS = 10.0


@dataclass(frozen=True)
class AudioChunk:
    """A block of decoded audio: `samples` start at `start` seconds in the file."""

    start: float
    samples: np.ndarray  # float32, mono, 16 kHz

    @property
    def duration(self) -> float:
        return len(self.samples) / SAMPLE_RATE

    @property
    def end(self) -> float:
        return self.start + self.duration


def _open(path: Path) -> av.container.InputContainer:
    if not path.is_file():
        raise InvalidAudio(f"audio file {path} does not exist")
    if path.stat().st_size == 0:
        raise InvalidAudio(f"audio file {path.name} is empty")
    try:
        container = av.open(str(path), mode="r")
    except (av.error.FFmpegError, ValueError, OSError) as exc:
        raise InvalidAudio(f"{path.name} is not a readable audio file: {exc}") from exc
    if not container.streams.audio:
        container.close()
        raise InvalidAudio(f"{path.name} has no audio stream")
    return container


def probe_duration(path: str | Path) -> float:
    """Duration in seconds from the container header (0.0 when the header does not say)."""
    container = _open(Path(path))
    try:
        stream = container.streams.audio[0]
        if stream.duration is not None and stream.time_base is not None:
            return float(stream.duration * stream.time_base)
        if container.duration is not None:
            return container.duration / av.time_base
        return 0.0
    finally:
        container.close()


def _resampled_frames(container: av.container.InputContainer, name: str) -> Iterator[np.ndarray]:
    resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
    stream = container.streams.audio[0]
    try:
        for frame in container.decode(stream):
            for out in resampler.resample(frame):
                yield out.to_ndarray().reshape(-1)
        for out in resampler.resample(None):
            yield out.to_ndarray().reshape(-1)
    except av.error.FFmpegError as exc:
        raise InvalidAudio(f"{name} could not be decoded: {exc}") from exc


def iter_chunks(
    path: str | Path, chunk_seconds: float = DEFAULT_CHUNK_SECONDS
) -> Iterator[AudioChunk]:
    """Yield consecutive chunks of `chunk_seconds` (the last one may be shorter).

    Raises InvalidAudio when the file cannot be opened or holds no decodable audio.
    """
    path = Path(path)
    chunk_len = max(1, round(chunk_seconds * SAMPLE_RATE))
    container = _open(path)
    buffer = np.empty(chunk_len, dtype=np.float32)
    filled = 0
    emitted = 0
    try:
        for samples in _resampled_frames(container, path.name):
            pos = 0
            while pos < len(samples):
                take = min(chunk_len - filled, len(samples) - pos)
                buffer[filled : filled + take] = samples[pos : pos + take]
                filled += take
                pos += take
                if filled == chunk_len:
                    yield AudioChunk(emitted / SAMPLE_RATE, buffer.copy())
                    emitted += filled
                    filled = 0
        if filled:
            yield AudioChunk(emitted / SAMPLE_RATE, buffer[:filled].copy())
            emitted += filled
    finally:
        container.close()
    if emitted == 0:
        raise InvalidAudio(f"{path.name} contains no decodable audio")


def read_all(path: str | Path) -> np.ndarray:
    """Whole file as one array. Only for short clips (tests, benchmarks)."""
    parts = [c.samples for c in iter_chunks(path)]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)


def write_wav(path: str | Path, samples: np.ndarray) -> None:
    """Write 16 kHz mono float samples as 16-bit PCM WAV (tests, benchmarks, fixtures)."""
    import wave

    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(pcm.tobytes())
