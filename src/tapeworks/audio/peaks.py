"""Waveform peaks for the cut editor: the loudest sample of each bucket of a recording.

Computed on the server, streaming: frames are decoded at the file's own rate (no
resampling) and folded into one running maximum per bucket as they arrive, so memory is
the bucket array plus one decoded frame whatever the recording's length (DESIGN rule 11).
A detail view of a short span seeks to it and decodes only that span.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from tapeworks.audio.decode import _open, frame_to_float
from tapeworks.errors import InvalidAudio

MAX_BUCKETS = 20_000


@dataclass(frozen=True)
class Peaks:
    start: float  # seconds of the first bucket
    bucket_seconds: float
    peaks: list[float]  # 0..1, the largest absolute sample of each bucket, all channels

    @property
    def end(self) -> float:
        return self.start + self.bucket_seconds * len(self.peaks)


def compute_peaks(path: Path, *, duration: float, buckets: int, start: float = 0.0,
                  end: float | None = None) -> Peaks:
    """Peaks of [start, end) of the file in `buckets` equal buckets (end: `duration`)."""
    end = duration if end is None else min(end, duration)
    start = max(0.0, start)
    if not end > start:
        raise InvalidAudio("the span to draw is empty")
    buckets = max(1, min(MAX_BUCKETS, int(buckets)))
    width = (end - start) / buckets
    acc = np.zeros(buckets, dtype=np.float32)
    with _open(path) as container:
        stream = container.streams.audio[0]
        rate = stream.sample_rate or stream.codec_context.sample_rate
        if not rate:
            raise InvalidAudio(f"{path.name} has no sample rate")
        seeking = start > 1.0
        if seeking and stream.time_base is not None:
            try:
                container.seek(int(start / stream.time_base), stream=stream, backward=True)
            except av.FFmpegError:
                container.seek(0, stream=stream)
                seeking = False
        base: float | None = None  # seconds of the first decoded sample
        count = 0  # samples decoded since (exact: no float drift across frames)
        pending: list[np.ndarray] = []  # amplitudes of consecutive frames not yet folded
        pending_start = 0.0
        pending_len = 0
        batch = rate * 2  # fold about two seconds at a time: fewer, larger numpy calls
        try:
            for frame in container.decode(stream):
                if base is None:
                    base = float(frame.time) if seeking and frame.time is not None else 0.0
                n = frame.samples
                frame_start = base + count / rate
                count += n
                if base + count / rate <= start:
                    continue
                if frame_start >= end:
                    break
                data = frame_to_float(frame)
                if not pending:
                    pending_start = frame_start
                pending.append(np.abs(data).max(axis=0) if data.shape[0] > 1 else np.abs(data[0]))
                pending_len += n
                if pending_len >= batch:
                    _fold(acc, np.concatenate(pending), pending_start, rate, start, width)
                    pending, pending_len = [], 0
            if pending:
                _fold(acc, np.concatenate(pending), pending_start, rate, start, width)
        except av.FFmpegError as exc:
            raise InvalidAudio(f"{path.name} could not be decoded: it is damaged") from exc
    np.clip(acc, 0.0, 1.0, out=acc)
    return Peaks(start=start, bucket_seconds=width,
                 peaks=[round(float(v), 3) for v in acc])


def _fold(acc: np.ndarray, amp: np.ndarray, frame_start: float, rate: int, start: float,
          width: float) -> None:
    """acc[b] = max(acc[b], amp over the samples that fall in bucket b)."""
    n = amp.shape[0]
    first = (frame_start - start) / width  # bucket position of the frame's first sample
    per_sample = 1.0 / (rate * width)
    eps = 1e-6  # a bucket edge that falls exactly on a sample starts at that sample
    lo = math.floor(first + eps)
    hi = math.floor(first + (n - 1) * per_sample + eps)
    if hi < 0 or lo >= acc.shape[0]:
        return
    if lo == hi:
        acc[lo] = max(acc[lo], amp.max())
        return
    # sample index where each bucket from lo+1 .. hi begins
    bounds = np.ceil((np.arange(lo + 1, hi + 1) - first) / per_sample - eps).astype(np.int64)
    bounds = np.clip(bounds, 0, n)
    starts = np.concatenate(([0], bounds))
    keep = starts < n
    idx = np.arange(lo, hi + 1)[keep]
    starts = starts[keep]
    maxima = np.maximum.reduceat(amp, starts)
    inside = (idx >= 0) & (idx < acc.shape[0])
    np.maximum.at(acc, idx[inside], maxima[inside])
