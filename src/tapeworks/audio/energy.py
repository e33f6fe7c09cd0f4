"""Short-time energy of 16 kHz mono audio: where the audio itself is loud enough to be speech.

An `Envelope` is the RMS of consecutive 10 ms frames (3 hours of audio: about 4 MB), built
incrementally from a chunk stream by `EnvelopeBuilder`, so it can sit beside a pipeline
that never holds the audio (rule 11). `speech_threshold` turns an envelope into one level
above which a frame counts as speech; word-timing repair (speech/timing.py) and cut
verification (production/verify.py) use the same definition.

The threshold is relative: 10 dB above the noise floor (the quietest tenth of the frames
that are not digital silence), but never more than 26 dB below loud speech (the 95th
percentile), and never under -50 dBFS. A noisy room therefore does not hide quiet speech
(the cap), and a studio's hiss does not count as speech (the floor).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tapeworks.audio.decode import SPEECH_RATE as SAMPLE_RATE

FRAME_SECONDS = 0.01
ABSOLUTE_THRESHOLD = 10 ** (-50 / 20)  # -50 dBFS
ABOVE_FLOOR = 10 ** (10 / 20)  # 10 dB above the noise floor ...
BELOW_LOUD = 10 ** (-26 / 20)  # ... but at most 26 dB under loud speech
QUIET_ABSOLUTE = 10 ** (-60 / 20)
QUIET_ABOVE_FLOOR = 10 ** (6 / 20)
_DIGITAL_SILENCE = 1e-5

Span = tuple[float, float]


def frame_rms(samples: np.ndarray, frame: int) -> np.ndarray:
    """RMS of each complete `frame`-sample frame of a 1-D array (a partial tail is ignored)."""
    n = len(samples) // frame
    if n == 0:
        return np.zeros(0, np.float32)
    x = samples[: n * frame].astype(np.float32, copy=False).reshape(n, frame)
    return np.sqrt(np.einsum("ij,ij->i", x, x) / frame).astype(np.float32)


def levels(rms: np.ndarray) -> tuple[float, float]:
    """(noise floor, loud speech): the 10th and 95th percentile of the frames that are not
    digital silence (0, 0 when all are)."""
    live = rms[rms > _DIGITAL_SILENCE]
    if len(live) == 0:
        return 0.0, 0.0
    return float(np.percentile(live, 10)), float(np.percentile(live, 95))


def speech_threshold(rms: np.ndarray) -> float:
    """The frame RMS above which a frame counts as speech (see the module docstring)."""
    floor, loud = levels(rms)
    if loud == 0.0:
        return ABSOLUTE_THRESHOLD
    return max(ABSOLUTE_THRESHOLD, min(floor * ABOVE_FLOOR, loud * BELOW_LOUD))


def quiet_threshold(rms: np.ndarray) -> float:
    """A lower level (6 dB above the floor, at least -60 dBFS): where voice activity says
    speech, a frame above it counts as speech too (quiet speech, a soft word end), while
    the floor between words does not (the detector's padding and hangover)."""
    floor, _ = levels(rms)
    return max(QUIET_ABSOLUTE, floor * QUIET_ABOVE_FLOOR)


@dataclass(frozen=True)
class Envelope:
    """Frame RMS from `start` seconds on, one value per `frame_seconds`."""

    rms: np.ndarray
    start: float = 0.0
    frame_seconds: float = FRAME_SECONDS

    @property
    def end(self) -> float:
        return self.start + len(self.rms) * self.frame_seconds

    def index(self, t: float) -> int:
        """The frame containing instant `t`, clamped to [0, len]."""
        return int(min(max((t - self.start) / self.frame_seconds, 0), len(self.rms)))

    def threshold(self) -> float:
        return speech_threshold(self.rms)

    def voiced_fraction(self, a: float, b: float, threshold: float) -> float:
        """Share of the frames in [a, b) louder than `threshold` (0 for an empty span)."""
        i, j = self.index(a), self.index(b)
        if j <= i:
            k = self.index(a)
            return float(k < len(self.rms) and self.rms[k] > threshold)
        return float(np.mean(self.rms[i:j] > threshold))

    def voiced_runs(
        self, a: float, b: float, threshold: float, bridge: float = 0.05, min_length: float = 0.03
    ) -> list[Span]:
        """Spans in [a, b) louder than `threshold`; gaps up to `bridge` s are bridged."""
        i, j = self.index(a), self.index(b)
        if j <= i:
            return []
        loud = self.rms[i:j] > threshold
        edges = np.flatnonzero(np.diff(np.concatenate(([0], loud.astype(np.int8), [0]))))
        runs: list[Span] = []
        f = self.frame_seconds
        for s, e in zip(edges[::2], edges[1::2], strict=True):
            start, end = self.start + (i + s) * f, self.start + (i + e) * f
            if runs and start - runs[-1][1] <= bridge:
                runs[-1] = (runs[-1][0], end)
            else:
                runs.append((start, end))
        return [(max(s, a), min(e, b)) for s, e in runs if e - s >= min_length]


class EnvelopeBuilder:
    """Builds an `Envelope` from consecutive sample blocks (any sizes), holding only the
    frame values and less than one frame of samples."""

    def __init__(self, rate: int = SAMPLE_RATE, frame_seconds: float = FRAME_SECONDS,
                 start: float = 0.0) -> None:
        self.frame = max(1, round(rate * frame_seconds))
        self.frame_seconds = self.frame / rate
        self.start = start
        self._carry = np.zeros(0, np.float32)
        self._parts: list[np.ndarray] = []

    def add(self, samples: np.ndarray) -> None:
        data = np.concatenate([self._carry, samples.astype(np.float32, copy=False)])
        usable = len(data) // self.frame * self.frame
        if usable:
            self._parts.append(frame_rms(data[:usable], self.frame))
        self._carry = data[usable:].copy()

    def envelope(self) -> Envelope:
        parts = list(self._parts)
        if len(self._carry):
            tail = self._carry
            parts.append(np.array([np.sqrt(np.mean(tail * tail))], np.float32))
        rms = np.concatenate(parts) if parts else np.zeros(0, np.float32)
        return Envelope(rms, self.start, self.frame_seconds)


def merge_spans(spans: Sequence[Span], gap: float = 0.0) -> list[Span]:
    """Sort and merge spans that overlap or are at most `gap` apart."""
    out: list[Span] = []
    for a, b in sorted(spans):
        if b <= a:
            continue
        if out and a <= out[-1][1] + gap:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def subtract_spans(span: Span, holes: Sequence[Span]) -> list[Span]:
    """The parts of `span` outside every hole."""
    pieces = [span]
    for h0, h1 in holes:
        nxt: list[Span] = []
        for a, b in pieces:
            if h1 <= a or h0 >= b:
                nxt.append((a, b))
                continue
            if h0 > a:
                nxt.append((a, h0))
            if h1 < b:
                nxt.append((h1, b))
        pieces = nxt
    return pieces
