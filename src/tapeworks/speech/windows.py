"""Cut a chunk stream into transcription windows at silences, with bounded memory."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from tapeworks.audio.decode import SPEECH_RATE, AudioChunk
from tapeworks.audio.vad import Region, SpeechDetector, clip_regions

MAX_WINDOW_SECONDS = 30.0  # Whisper's own context: one encoder pass per window
MIN_WINDOW_SECONDS = 12.0


@dataclass(frozen=True)
class Window:
    start: float
    samples: np.ndarray
    regions: list[Region]  # speech inside the window, absolute seconds

    @property
    def end(self) -> float:
        return self.start + len(self.samples) / SPEECH_RATE


def _gaps(regions: list[Region], start: float, end: float) -> list[tuple[float, float]]:
    edges = [start, *[t for r in regions for t in (r.start, r.end)], end]
    return [(edges[i], edges[i + 1]) for i in range(0, len(edges), 2) if edges[i + 1] > edges[i]]


def _quietest_point(samples: np.ndarray, start: float, lo: float, hi: float) -> float:
    frame = SPEECH_RATE // 50
    a = int((lo - start) * SPEECH_RATE)
    b = int((hi - start) * SPEECH_RATE)
    seg = samples[a:b]
    n = len(seg) // frame
    if n == 0:
        return hi
    energy = (seg[: n * frame].reshape(n, frame) ** 2).mean(axis=1)
    return lo + (int(np.argmin(energy)) + 0.5) * frame / SPEECH_RATE


def choose_cut(
    samples: np.ndarray, start: float, regions: list[Region], min_s: float, max_s: float
) -> float:
    """Where to end a window: the middle of the longest silence between min_s and max_s
    after `start`; failing that, the quietest 20 ms in the last 5 s before max_s."""
    lo, hi = start + min_s, start + max_s
    candidates = [
        (e - s, (s + e) / 2) for s, e in _gaps(regions, start, start + len(samples) / SPEECH_RATE)
        if lo <= (s + e) / 2 <= hi
    ]
    if candidates:
        return max(candidates)[1]
    return _quietest_point(samples, start, max(lo, hi - 5.0), hi)


def iter_windows(
    chunks: Iterable[AudioChunk],
    detector: SpeechDetector,
    max_seconds: float = MAX_WINDOW_SECONDS,
    min_seconds: float = MIN_WINDOW_SECONDS,
) -> Iterator[Window]:
    """Windows of at most `max_seconds`, cut in silences, each with its speech regions."""
    buffer = np.zeros(0, dtype=np.float32)
    start = 0.0
    max_len = int(max_seconds * SPEECH_RATE)
    for chunk in chunks:
        if not len(buffer):
            start = chunk.start
        buffer = np.concatenate([buffer, chunk.samples])
        while len(buffer) > max_len:
            regions = detector.detect(buffer, start)
            cut = choose_cut(buffer, start, regions, min_seconds, max_seconds)
            n = max(1, min(len(buffer), round((cut - start) * SPEECH_RATE)))
            end = start + n / SPEECH_RATE
            yield Window(start, buffer[:n].copy(), clip_regions(regions, start, end))
            buffer = buffer[n:]
            start = end
    if len(buffer):
        end = start + len(buffer) / SPEECH_RATE
        yield Window(start, buffer, clip_regions(detector.detect(buffer, start), start, end))
