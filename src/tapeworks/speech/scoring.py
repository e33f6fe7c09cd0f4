"""Scoring helpers shared by tests and the benchmark: WER, speaker accuracy, references."""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tapeworks.transcripts.model import Word

_NON_WORD = re.compile(r"[^a-z0-9' ]+")


def normalise_text(text: str) -> list[str]:
    """Lower case, punctuation removed (apostrophes kept), split on spaces."""
    cleaned = _NON_WORD.sub(" ", text.lower().replace("-", " "))
    return [w.strip("'") for w in cleaned.split() if w.strip("'")]


def word_error_rate(reference: str, hypothesis: str) -> float:
    ref, hyp = normalise_text(reference), normalise_text(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1] / len(ref)


@dataclass(frozen=True)
class Turn:
    speaker: str
    start: float
    end: float
    text: str = ""


def read_rttm(path: str | Path) -> list[Turn]:
    turns = []
    for line in Path(path).read_text().splitlines():
        f = line.split()
        if len(f) >= 8 and f[0] == "SPEAKER":
            turns.append(Turn(f[7], float(f[3]), float(f[3]) + float(f[4])))
    return turns


def read_stm(path: str | Path) -> list[Turn]:
    turns = []
    for line in Path(path).read_text().splitlines():
        f = line.split(maxsplit=5)
        if len(f) >= 5 and not line.startswith(";;"):
            turns.append(Turn(f[2], float(f[3]), float(f[4]), f[5] if len(f) > 5 else ""))
    return turns


def _word_label_at(words: Sequence[Word], times: np.ndarray) -> list[str | None]:
    """Speaker of the word covering each time, else of the nearest word."""
    if not words:
        return [None] * len(times)
    starts = np.array([w.start for w in words])
    ends = np.array([w.end for w in words])
    out: list[str | None] = []
    for t in times:
        dist = np.maximum(starts - t, 0) + np.maximum(t - ends, 0)
        out.append(words[int(np.argmin(dist))].speaker)
    return out


def speaker_accuracy(words: Sequence[Word], reference: Sequence[Turn], step: float = 0.01) -> float:
    """Share of non-overlapping reference speech time labelled with the right speaker,
    under the best one-to-one mapping of our speaker ids to the reference's."""
    end = max(t.end for t in reference)
    times = np.arange(0.0, end, step)
    ref_labels: list[str | None] = []
    for t in times:
        active = {turn.speaker for turn in reference if turn.start <= t < turn.end}
        ref_labels.append(active.pop() if len(active) == 1 else None)
    mask = np.array([r is not None for r in ref_labels])
    ours = _word_label_at(words, times[mask])
    refs = [r for r in ref_labels if r is not None]
    our_ids = sorted({o for o in ours if o is not None})
    ref_ids = sorted(set(refs))
    best = 0
    for perm in itertools.permutations(ref_ids, min(len(ref_ids), len(our_ids))):
        mapping = dict(zip(our_ids, perm, strict=False))
        best = max(best, sum(1 for o, r in zip(ours, refs, strict=True) if mapping.get(o or "") == r))
    return best / max(1, len(refs))


@dataclass(frozen=True)
class GappedSpeech:
    """Real speech cut at its own pauses with digital silence inserted between pieces."""

    samples: np.ndarray
    gaps: list[tuple[float, float]]  # inserted silences, seconds
    onsets: list[float]  # where speech starts again after each gap (energy onset)


def _energy_onset(piece: np.ndarray, sample_rate: int) -> float:
    frame = sample_rate // 100
    n = len(piece) // frame
    rms = np.sqrt((piece[: n * frame].reshape(n, frame) ** 2).mean(axis=1))
    loud = np.flatnonzero(rms > 0.1 * np.percentile(rms, 95))
    return float(loud[0] * frame / sample_rate) if len(loud) else 0.0


def insert_silences(
    samples: np.ndarray, regions: Sequence[tuple[float, float]], gap_seconds: float,
    sample_rate: int = 16_000, repeat: int = 1,
) -> GappedSpeech:
    """Cut `samples` at the middle of each pause between speech `regions` and insert
    `gap_seconds` of silence there; the whole thing is repeated `repeat` times."""
    cuts = [0] + [int((a[1] + b[0]) / 2 * sample_rate) for a, b in itertools.pairwise(regions)]
    cuts.append(len(samples))
    pieces = [samples[a:b] for a, b in itertools.pairwise(cuts) if b > a] * repeat
    gap = np.zeros(int(gap_seconds * sample_rate), dtype=np.float32)
    out: list[np.ndarray] = []
    gaps: list[tuple[float, float]] = []
    onsets: list[float] = []
    t = 0.0
    for i, piece in enumerate(pieces):
        if i:
            out.append(gap)
            gaps.append((t, t + gap_seconds))
            t += gap_seconds
            onsets.append(t + _energy_onset(piece, sample_rate))
        out.append(piece.astype(np.float32))
        t += len(piece) / sample_rate
    return GappedSpeech(np.concatenate(out), gaps, onsets)


def word_speaker_accuracy(words: Sequence[Word], reference: Sequence[Turn]) -> float:
    """Share of words (whose middle falls in exactly one reference turn) labelled with the
    right speaker, under the best one-to-one mapping of our speaker ids to the reference's."""
    pairs: list[tuple[str, str]] = []
    for w in words:
        mid = (w.start + w.end) / 2
        active = {t.speaker for t in reference if t.start <= mid < t.end}
        if len(active) == 1 and w.speaker is not None:
            pairs.append((w.speaker, active.pop()))
    if not pairs:
        return 0.0
    ours = sorted({o for o, _ in pairs})
    refs = sorted({r for _, r in pairs})
    best = 0
    for perm in itertools.permutations(refs, min(len(refs), len(ours))):
        mapping = dict(zip(ours, perm, strict=False))
        best = max(best, sum(1 for o, r in pairs if mapping.get(o) == r))
    return best / len(pairs)
