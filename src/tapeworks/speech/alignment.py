"""Fit word timings to where speech actually is.

Whisper's word times drift (starts run about 0.3 s early, the word before a pause
absorbs the pause). Voice activity regions are much sharper at silences, so:
- a word overlapping speech is clipped to the speech region it overlaps most, so no
  word starts or ends inside a silence gap;
- a word entirely inside silence but close to speech (`snap_seconds`) is moved to the
  nearest speech edge (the usual early-start case);
- a word far from any speech is dropped: no text over silence.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import replace

from tapeworks.audio.vad import Region
from tapeworks.speech.engines.base import EngineWord

SNAP_SECONDS = 0.6
MIN_WORD_SECONDS = 0.04


def _most_overlap(word: EngineWord, regions: Sequence[Region], starts: list[float]) -> Region | None:
    """The region overlapping `word` most, if any."""
    j = bisect.bisect_right(starts, word.end) - 1
    best: Region | None = None
    best_overlap = 0.0
    while j >= 0 and regions[j].end > word.start:
        overlap = min(word.end, regions[j].end) - max(word.start, regions[j].start)
        if overlap > best_overlap:
            best, best_overlap = regions[j], overlap
        j -= 1
    return best


def _nearest(word: EngineWord, regions: Sequence[Region], starts: list[float]) -> Region | None:
    """The region nearest to `word`, if within SNAP_SECONDS."""
    i = bisect.bisect_right(starts, word.end)
    candidates = []
    if i - 1 >= 0:
        candidates.append((word.start - regions[i - 1].end, regions[i - 1]))
    if i < len(regions):
        candidates.append((regions[i].start - word.end, regions[i]))
    near = [(d, r) for d, r in candidates if d <= SNAP_SECONDS]
    return min(near, key=lambda dr: dr[0])[1] if near else None


def _clip(word: EngineWord, region: Region) -> EngineWord:
    length = max(word.end - word.start, MIN_WORD_SECONDS)
    start = min(max(word.start, region.start), region.end)
    end = max(min(word.end, region.end), region.start)
    if end - start < MIN_WORD_SECONDS:  # snapped to an edge: give it room inside the region
        if word.end <= region.start:
            start, end = region.start, min(region.start + length, region.end)
        elif word.start >= region.end:
            start, end = max(region.end - length, region.start), region.end
        else:
            end = min(start + MIN_WORD_SECONDS, region.end)
    return replace(word, start=round(start, 3), end=round(end, 3))


def _untangle(words: list[EngineWord]) -> list[EngineWord]:
    """Keep words in order and non-overlapping after moving edges."""
    out: list[EngineWord] = []
    for w in words:
        if out and w.start < out[-1].start:
            w = replace(w, start=out[-1].start, end=max(w.end, out[-1].start))
        if out and out[-1].end > w.start:
            prev = out[-1]
            out[-1] = replace(prev, end=max(prev.start, w.start))
        out.append(w)
    return out


def align_words(words: Sequence[EngineWord], regions: Sequence[Region]) -> list[EngineWord]:
    """Clip words to speech `regions` (sorted, non-overlapping); drop words over silence.

    Each word goes to the speech region it overlaps most; failing that, to the nearest
    one within SNAP_SECONDS; failing that, it is dropped.
    """
    starts = [r.start for r in regions]
    kept: list[EngineWord] = []
    for word in words:
        region = _most_overlap(word, regions, starts) or _nearest(word, regions, starts)
        if region is not None:
            kept.append(_clip(word, region))
    return _untangle(kept)
