"""Repair word timings that the audio contradicts, at transcription time.

Whisper's word times are wrong often enough to matter (issue 11): zero-length words
("ask" at 7.01-7.01 s while it is spoken at 6.3-6.6 s), words stretched over a pause
and then clipped to the wrong side of it, words placed over silence. Every later use of
the times (the player, search, the cuts) inherits such an error, so it is repaired once,
here, and the engine's own times are kept beside the repaired ones
(`engine_start`/`engine_end` on the word).

A word is *suspect* when
- it is implausibly short (shorter than `min_word_seconds(text)`, zero-length included),
  as the engine timed it or after alignment;
- most of it lies over silence (as the engine timed it, and no alignment rescued it);
- or the engine started it in speech but alignment moved it away from that start (a
  word stretched over a pause and clipped to the speech on the far side).

A suspect word is re-anchored to the speech between its neighbours: the voiced runs
(voice activity regions or short-time energy above the speech threshold, see
audio/energy.py) between the end of the word before it and the start of the next word
that is not suspect. The run holding the engine's own placement wins; failing that, the
nearest run, where runs that merely continue a neighbour's speech come last.
A word with no speech between its neighbours keeps its time (the audio has no better
answer), clamped between them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from tapeworks.audio.energy import Envelope, Span
from tapeworks.audio.vad import Region
from tapeworks.speech.engines.base import EngineWord

MIN_WORD_SECONDS = 0.06
MIN_SECONDS_PER_LETTER = 0.025
OVER_SILENCE_FRACTION = 0.5
MISPLACED_SECONDS = 0.1  # alignment moved the word this far from a voiced engine start
RUN_BRIDGE_SECONDS = 0.05
MIN_RUN_SECONDS = 0.03
EDGE_PENALTY_SECONDS = 1000.0  # a run continuing a neighbour's speech loses to any other


def _letters(text: str) -> int:
    return sum(ch.isalnum() for ch in text) or 1


def min_word_seconds(text: str) -> float:
    """Shorter than this, a word's timing is not believed (about 40 letters per second)."""
    return max(MIN_WORD_SECONDS, MIN_SECONDS_PER_LETTER * _letters(text))


def typical_word_seconds(text: str) -> float:
    """How long a word of this spelling usually takes (used to place it inside long runs)."""
    return min(max(0.07 * _letters(text), 0.15), 0.8)


def mark_engine_times(words: Sequence[EngineWord]) -> list[EngineWord]:
    """Record each word's times as the engine gave them, before anything moves them."""
    return [
        w if w.engine_start is not None else replace(w, engine_start=w.start, engine_end=w.end)
        for w in words
    ]


@dataclass(frozen=True)
class SpeechMask:
    """One flag per envelope frame: speech by voice activity or by energy."""

    voiced: np.ndarray  # bool
    start: float
    frame_seconds: float

    @classmethod
    def build(
        cls, envelope: Envelope, regions: Sequence[Region], threshold: float | None = None
    ) -> SpeechMask:
        thr = envelope.threshold() if threshold is None else threshold
        voiced = envelope.rms > thr
        for r in regions:
            voiced[envelope.index(r.start) : envelope.index(r.end)] = True
        return cls(voiced, envelope.start, envelope.frame_seconds)

    @property
    def end(self) -> float:
        return self.start + len(self.voiced) * self.frame_seconds

    def _index(self, t: float) -> int:
        return int(min(max((t - self.start) / self.frame_seconds, 0), len(self.voiced)))

    def at(self, t: float) -> bool:
        i = self._index(t)
        return bool(i < len(self.voiced) and self.voiced[i])

    def fraction(self, a: float, b: float) -> float:
        i, j = self._index(a), self._index(b)
        if j <= i:
            return float(self.at(a))
        return float(np.mean(self.voiced[i:j]))

    def runs(self, a: float, b: float) -> list[Span]:
        """Voiced spans within [a, b), gaps up to RUN_BRIDGE_SECONDS bridged."""
        i, j = self._index(a), self._index(b)
        if j <= i:
            return []
        flags = self.voiced[i:j].astype(np.int8)
        edges = np.flatnonzero(np.diff(np.concatenate(([0], flags, [0]))))
        out: list[Span] = []
        f = self.frame_seconds
        for s, e in zip(edges[::2], edges[1::2], strict=True):
            lo, hi = max(a, self.start + (i + s) * f), min(b, self.start + (i + e) * f)
            if out and lo - out[-1][1] <= RUN_BRIDGE_SECONDS:
                out[-1] = (out[-1][0], hi)
            elif hi > lo:
                out.append((lo, hi))
        return [r for r in out if r[1] - r[0] >= MIN_RUN_SECONDS]


def _engine_span(w: EngineWord) -> tuple[float, float]:
    s = w.engine_start if w.engine_start is not None else w.start
    e = w.engine_end if w.engine_end is not None else w.end
    return (min(s, e), max(s, e))


def is_suspect(w: EngineWord, speech: SpeechMask) -> bool:
    es, ee = _engine_span(w)
    shortest = min_word_seconds(w.text)
    if w.end - w.start < shortest or ee - es < shortest:
        return True
    if speech.fraction(w.start, w.end) < OVER_SILENCE_FRACTION:
        return True
    moved = not (w.start - MISPLACED_SECONDS <= es <= w.end + MISPLACED_SECONDS)
    return bool(moved and speech.at(es) and speech.fraction(es, ee) < OVER_SILENCE_FRACTION)


def _anchor(w: EngineWord, speech: SpeechMask) -> float:
    """Where the engine meant the word: its start if that is in speech, else its end if
    that is, else the aligned middle."""
    es, ee = _engine_span(w)
    if speech.at(es):
        return es
    if speech.at(max(es, ee - speech.frame_seconds)):
        return ee
    return (w.start + w.end) / 2


def _distance(t: float, run: Span) -> float:
    return max(run[0] - t, 0.0, t - run[1])


def _score(run: Span, anchor: float, left: float | None, right: float | None,
           speech: SpeechMask) -> float:
    """Distance from the anchor; a run that merely continues the speech of the word
    before (voiced just before `left`) or after (voiced at `right`) comes last, unless the
    engine placed the word inside it."""
    if run[0] <= anchor <= run[1]:
        return 0.0
    continues = (left is not None and run[0] <= left + speech.frame_seconds + 1e-6
                 and speech.at(left)) or (right is not None and run[1] >= right - 1e-6
                                          and speech.at(right))
    return _distance(anchor, run) + (EDGE_PENALTY_SECONDS if continues else 0.0)


def _place(w: EngineWord, run: Span, anchor: float) -> EngineWord:
    length = run[1] - run[0]
    want = typical_word_seconds(w.text)
    if length <= 2 * want:
        start, end = run
    elif anchor <= run[0] + want / 2:
        start, end = run[0], run[0] + want
    elif anchor >= run[1] - want / 2:
        start, end = run[1] - want, run[1]
    else:
        start, end = anchor - want / 2, anchor + want / 2
    return replace(w, start=round(start, 3), end=round(end, 3))


def repair_word_timings(
    words: Sequence[EngineWord],
    regions: Sequence[Region],
    envelope: Envelope,
    threshold: float | None = None,
) -> list[EngineWord]:
    """Words (in order, aligned) with suspect timings re-anchored to the speech between
    their neighbours; see the module docstring. Words that are not suspect are returned
    unchanged, and the order of the words never changes."""
    if not words:
        return []
    speech = SpeechMask.build(envelope, regions, threshold)
    suspect = [is_suspect(w, speech) for w in words]
    out = list(words)
    end_of_audio = max(speech.end, max(w.end for w in words))
    for i, w in enumerate(words):
        if not suspect[i]:
            continue
        lo = out[i - 1].end if i else 0.0
        nxt = next((k for k in range(i + 1, len(words)) if not suspect[k]), None)
        hi = words[nxt].start if nxt is not None else end_of_audio
        if hi <= lo:
            out[i] = replace(w, start=round(lo, 3), end=round(lo, 3))
            continue
        runs = speech.runs(lo, hi)
        if not runs:
            start = min(max(w.start, lo), hi)
            out[i] = replace(w, start=round(start, 3), end=round(min(max(w.end, start), hi), 3))
            continue
        anchor = _anchor(w, speech)

        left = lo - speech.frame_seconds if i else None
        right = hi if nxt is not None else None
        out[i] = _place(w, min(runs, key=lambda r: _score(r, anchor, left, right, speech)), anchor)
    return out
