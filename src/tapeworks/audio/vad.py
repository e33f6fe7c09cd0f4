"""Voice activity detection: where in the audio someone is speaking.

Two detectors with one interface:
- `SileroVad`: Silero VAD (ONNX, shipped inside faster-whisper; no torch). Used with
  real speech engines; its edges are what word timings are clipped to.
- `EnergyVad`: frame energy threshold; no model. Used by the fake engine and as a cheap
  detector for synthetic signals in tests.

`BackedVad` combines them: Silero's regions, plus the regions of an adaptive energy
detector (threshold relative to the noise floor) that Silero missed entirely. Silero
sometimes misses quiet speech (e.g. right after digital silence); without the backup,
windows would be cut through that speech and its words dropped as "over silence".

`iter_speech_regions` runs a detector over a stream of chunks with bounded memory.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from tapeworks.audio.decode import SPEECH_RATE, AudioChunk


@dataclass(frozen=True)
class Region:
    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


class SpeechDetector(Protocol):
    def detect(self, samples: np.ndarray, offset: float = 0.0) -> list[Region]:
        """Speech regions in `samples`, in seconds, shifted by `offset`."""
        ...


@dataclass
class SileroVad:
    threshold: float = 0.5
    min_silence_ms: int = 250
    min_speech_ms: int = 120
    pad_ms: int = 30

    def detect(self, samples: np.ndarray, offset: float = 0.0) -> list[Region]:
        from faster_whisper.vad import VadOptions, get_speech_timestamps

        if len(samples) < SPEECH_RATE // 10:
            return []
        options = VadOptions(
            threshold=self.threshold,
            min_silence_duration_ms=self.min_silence_ms,
            min_speech_duration_ms=self.min_speech_ms,
            speech_pad_ms=self.pad_ms,
        )
        stamps = get_speech_timestamps(samples.astype(np.float32, copy=False), options)
        return merge_regions(
            [Region(offset + s["start"] / SPEECH_RATE, offset + s["end"] / SPEECH_RATE) for s in stamps]
        )


@dataclass
class EnergyVad:
    """Frames whose RMS is above `threshold` are voiced; short gaps are bridged."""

    threshold: float = 0.01
    frame_ms: int = 20
    min_gap_s: float = 0.15
    min_region_s: float = 0.1
    floor_factor: float | None = None  # if set: threshold = max(threshold, factor * noise floor)

    def detect(self, samples: np.ndarray, offset: float = 0.0) -> list[Region]:
        frame = SPEECH_RATE * self.frame_ms // 1000
        n = len(samples) // frame
        if n == 0:
            return []
        frames = samples[: n * frame].reshape(n, frame).astype(np.float32)
        rms = np.sqrt(np.mean(frames * frames, axis=1))
        threshold = self.threshold
        if self.floor_factor is not None:
            threshold = max(threshold, self.floor_factor * _noise_floor(rms))
        voiced = rms > threshold
        regions: list[Region] = []
        step = frame / SPEECH_RATE
        start: int | None = None
        for i, v in enumerate(voiced):
            if v and start is None:
                start = i
            elif not v and start is not None:
                regions.append(Region(offset + start * step, offset + i * step))
                start = None
        if start is not None:
            regions.append(Region(offset + start * step, offset + n * step))
        bridged = merge_regions(regions, max_gap=self.min_gap_s)
        return [r for r in bridged if r.duration >= self.min_region_s]


def _noise_floor(rms: np.ndarray) -> float:
    """The quietest tenth of the frames, ignoring digital silence (exact zeros)."""
    live = rms[rms > 1e-4]
    return float(np.percentile(live, 10)) if len(live) else 0.0


def _overlaps_any(region: Region, regions: Sequence[Region]) -> bool:
    return any(r.start < region.end and region.start < r.end for r in regions)


@dataclass
class BackedVad:
    """`primary` regions plus the `backup` regions that no primary region touches."""

    primary: SpeechDetector = field(default_factory=SileroVad)
    backup: SpeechDetector = field(
        default_factory=lambda: EnergyVad(threshold=0.003, floor_factor=6.0, min_region_s=0.2)
    )

    def detect(self, samples: np.ndarray, offset: float = 0.0) -> list[Region]:
        main = self.primary.detect(samples, offset)
        orphans = [r for r in self.backup.detect(samples, offset) if not _overlaps_any(r, main)]
        return sorted(main + orphans, key=lambda r: r.start)


def merge_regions(regions: Iterable[Region], max_gap: float = 0.0) -> list[Region]:
    """Sort and merge regions that overlap or are at most `max_gap` apart."""
    merged: list[Region] = []
    for r in sorted(regions, key=lambda r: r.start):
        if merged and r.start - merged[-1].end <= max_gap:
            last = merged[-1]
            merged[-1] = Region(last.start, max(last.end, r.end))
        else:
            merged.append(r)
    return merged


def clip_regions(regions: Iterable[Region], start: float, end: float) -> list[Region]:
    """The parts of `regions` inside [start, end]."""
    out = []
    for r in regions:
        s, e = max(r.start, start), min(r.end, end)
        if e > s:
            out.append(Region(s, e))
    return out


def speech_seconds(regions: Iterable[Region]) -> float:
    return sum(r.duration for r in regions)


def iter_speech_regions(
    chunks: Iterable[AudioChunk], detector: SpeechDetector, carry_seconds: float = 30.0
) -> Iterator[Region]:
    """Speech regions of a chunk stream, yielded once they are final.

    A region that touches the end of the audio seen so far may continue in the next
    chunk, so the audio from its start is carried over (at most `carry_seconds`, which
    bounds memory even for a file that is speech from end to end).
    """
    carry = np.zeros(0, dtype=np.float32)
    carry_start = 0.0
    max_carry = int(carry_seconds * SPEECH_RATE)
    for chunk in chunks:
        if not len(carry):
            carry_start = chunk.start
        carry = np.concatenate([carry, chunk.samples])
        regions = detector.detect(carry, carry_start)
        seen_end = carry_start + len(carry) / SPEECH_RATE
        open_region = regions[-1] if regions and seen_end - regions[-1].end < 0.3 else None
        for r in regions:
            if r is not open_region:
                yield r
        if open_region is None:
            carry = np.zeros(0, dtype=np.float32)
            continue
        keep_from = max(open_region.start, seen_end - carry_seconds)
        if keep_from > open_region.start:  # too long to carry: emit what we have
            yield Region(open_region.start, keep_from)
        cut = round((keep_from - carry_start) * SPEECH_RATE)
        carry = carry[cut:][-max_carry:]
        carry_start = keep_from
    if len(carry):
        yield from detector.detect(carry, carry_start)
