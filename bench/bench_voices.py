"""Known-voice matching benchmark: cosine similarity of speaker embeddings (the centroid
the pipeline keeps per speaker) for the same voice in two different recordings and for
different voices, and what `voices.service.MATCH_THRESHOLD` makes of them.

    PYTHONPATH=src .venv/bin/python bench/bench_voices.py

Voices: the five espeak-ng variants of tests/helpers/speakers.py, each reading two
different sets of sentences; real speech: the two callers of sample.wav (first half of
their turns against the second half) and JFK (first half against second half).
Not part of the test suite. Goals: issue 15.
"""

from __future__ import annotations

import sys
from itertools import combinations
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.helpers import speakers as sp  # noqa: E402
from tests.helpers.paths import SPEECH_DIR  # noqa: E402

from tapeworks.audio.decode import SPEECH_RATE, read_all  # noqa: E402
from tapeworks.audio.vad import Region  # noqa: E402
from tapeworks.speech.diarization import SpeakerEmbedder  # noqa: E402
from tapeworks.speech.scoring import read_stm  # noqa: E402
from tapeworks.voices import service  # noqa: E402


def embed(samples: np.ndarray) -> np.ndarray:
    e = SpeakerEmbedder()
    e.add(samples, 0.0, [Region(0.0, len(samples) / SPEECH_RATE)])
    e.speaker_labels(1, 1)
    assert e.centroids is not None
    return e.centroids[0]


def recordings() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """voice -> (embedding of recording A, embedding of recording B)."""
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for voice in sp.VOICES:
        a = sp.join("a", [(voice, sp.speak(sp.SENTENCES[i], voice)) for i in (0, 1, 2)]).samples
        b = sp.join("b", [(voice, sp.speak(sp.SENTENCES[i], voice)) for i in (6, 7, 8)]).samples
        out[f"espeak {voice}"] = (embed(a), embed(b))
    call = read_all(SPEECH_DIR / "sample.wav")
    parts: dict[str, list[np.ndarray]] = {}
    for turn in read_stm(SPEECH_DIR / "sample.stm"):
        if turn.end - turn.start >= 1.5:
            parts.setdefault(turn.speaker, []).append(
                call[int(turn.start * SPEECH_RATE): int(turn.end * SPEECH_RATE)])
    for name, p in parts.items():
        half = len(p) // 2
        out[f"sample.wav {name}"] = (embed(np.concatenate(p[:half])), embed(np.concatenate(p[half:])))
    kennedy = sp.jfk(SPEECH_DIR).samples
    mid = len(kennedy) // 2
    out["jfk"] = (embed(kennedy[:mid]), embed(kennedy[mid:]))
    return out


def main() -> None:
    import argparse
    ap = argparse.ArgumentParser()
    ap.add_argument("--threshold", type=float, default=service.MATCH_THRESHOLD)
    threshold = ap.parse_args().threshold
    voices = recordings()
    names = list(voices)
    print(f"threshold {threshold}\n")
    print(f"{'voice':28} {'same voice, other recording':>28}")
    same = []
    for n in names:
        score = float(voices[n][0] @ voices[n][1])
        same.append(score)
        print(f"{n:28} {score:28.3f}{'' if score >= threshold else '   MISSED'}")
    different = []
    worst = ("", "", -1.0)
    for x, y in combinations(names, 2):
        for a in voices[x]:
            for b in voices[y]:
                score = float(a @ b)
                different.append(score)
                if score > worst[2]:
                    worst = (x, y, score)
    real = [n for n in names if not n.startswith("espeak")]
    real_diff = [float(a @ b) for x, y in combinations(real, 2) for a in voices[x] for b in voices[y]]
    false = sum(s >= threshold for s in different)
    print(f"\nsame voice: min {min(same):.3f}, median {np.median(same):.3f} ({len(same)} pairs, "
          f"{sum(s < threshold for s in same)} below the threshold)")
    print(f"different voices: max {max(different):.3f} ({worst[0]} / {worst[1]}), median "
          f"{np.median(different):.3f} ({len(different)} pairs, {false} at or above the threshold)")
    print(f"different real voices: max {max(real_diff):.3f} ({len(real_diff)} pairs)")


if __name__ == "__main__":
    main()
