from __future__ import annotations

import numpy as np
import pytest

from tapeworks.speech import diarization
from tapeworks.speech.diarization import cluster


def _voices(counts: list[int], seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((len(counts), 256))
    xs, ys = [], []
    for i, n in enumerate(counts):
        xs.append(centres[i] + 0.35 * rng.standard_normal((n, 256)))
        ys += [i] * n
    return np.concatenate(xs).astype(np.float32), np.array(ys)


@pytest.mark.parametrize("given", [None, 3])
def test_clusters_three_voices(given: int | None) -> None:
    x, truth = _voices([40, 30, 20])
    labels = cluster(x, given, max_speakers=6)
    assert len(set(labels)) == 3
    assert labels[0] == 0  # ids follow first appearance
    for c in range(3):
        assert len(set(labels[truth == c])) == 1


def test_one_voice_is_one_speaker() -> None:
    x, _ = _voices([60])
    assert set(cluster(x, None, max_speakers=6)) == {0}


def test_many_points_cluster_a_capped_sample(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(diarization, "MAX_CLUSTER_POINTS", 100)
    x, truth = _voices([700, 500])
    labels = cluster(x, 2, max_speakers=6)
    assert len(labels) == 1200
    agree = max(np.mean(labels == truth), np.mean(labels != truth))
    assert agree > 0.99
