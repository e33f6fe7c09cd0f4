"""Real speech with silences spliced in at quiet moments between words (issue 11).

`splice_silences` inserts digital silence at given source instants; `quiet_moment` finds
the quietest 20 ms between two words, so a splice never cuts through a word. Word timings
known for the source move with the splices (`shift`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

SPEECH_RATE = 16_000

# Word timings of the shared jfk.flac (faster-whisper base, aligned to voice activity),
# seconds in the original file.
JFK_WORDS: tuple[tuple[str, float, float], ...] = (
    ("And", 0.29, 0.52), ("so,", 0.52, 0.84), ("my", 1.06, 1.2), ("fellow", 1.2, 1.56),
    ("Americans,", 1.56, 2.1), ("ask", 3.33, 3.74), ("not", 3.74, 4.24), ("what", 4.24, 4.382),
    ("your", 5.52, 5.76), ("country", 5.76, 6.24), ("can", 6.24, 6.62), ("do", 6.62, 6.82),
    ("for", 6.82, 7.08), ("you,", 7.08, 7.34), ("ask", 8.194, 8.48), ("what", 8.48, 8.76),
    ("you", 8.76, 9.04), ("can", 9.04, 9.32), ("do", 9.32, 9.56), ("for", 9.56, 9.78),
    ("your", 9.78, 9.96), ("country.", 9.96, 10.36),
)
# The issue's case: 3.0 s of silence after "Americans," and 2.5 s after "what".
JFK_ISSUE_SPLICES: tuple[tuple[float, float], ...] = ((2.8, 3.0), (4.9, 2.5))


@dataclass(frozen=True)
class Spliced:
    samples: np.ndarray  # mono float32 at `rate`
    rate: int
    splices: tuple[tuple[float, float], ...]  # (source instant, seconds inserted)
    gaps: tuple[tuple[float, float], ...]  # inserted silences, in the new time base

    def shift(self, t: float) -> float:
        """Where source instant `t` is in the spliced audio."""
        return t + sum(g for at, g in self.splices if at <= t)


def splice_silences(samples: np.ndarray, splices: Sequence[tuple[float, float]],
                    rate: int = SPEECH_RATE) -> Spliced:
    """Insert `seconds` of digital silence at each source instant (sorted or not)."""
    ordered = tuple(sorted(splices))
    out: list[np.ndarray] = []
    gaps: list[tuple[float, float]] = []
    previous = 0
    inserted = 0.0
    for at, seconds in ordered:
        i = round(at * rate)
        out += [samples[previous:i], np.zeros(round(seconds * rate), np.float32)]
        gaps.append((at + inserted, at + inserted + seconds))
        inserted += seconds
        previous = i
    out.append(samples[previous:])
    return Spliced(np.concatenate(out).astype(np.float32), rate, ordered, tuple(gaps))


def quiet_moment(samples: np.ndarray, a: float, b: float, rate: int = SPEECH_RATE) -> float:
    """The middle of the quietest 20 ms frame in [a, b] seconds."""
    frame = rate // 50
    i, j = round(a * rate), round(b * rate)
    n = max(1, (j - i) // frame)
    seg = samples[i : i + n * frame]
    if len(seg) < frame:
        return (a + b) / 2
    energy = (seg.reshape(-1, frame).astype(np.float64) ** 2).mean(axis=1)
    return a + (int(np.argmin(energy)) + 0.5) * frame / rate


def splices_between_words(
    samples: np.ndarray, words: Sequence[tuple[float, float]], after: Sequence[int],
    seconds: Sequence[float], rate: int = SPEECH_RATE,
) -> list[tuple[float, float]]:
    """Splice points at the quietest moment after each word index in `after`."""
    return [
        (quiet_moment(samples, words[k][1], words[k + 1][0], rate), s)
        for k, s in zip(after, seconds, strict=True)
    ]
