"""Waveform peaks: the loudest sample of each bucket, checked against the decoded samples."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from tapeworks.audio.peaks import compute_peaks
from tapeworks.errors import InvalidAudio
from tests.helpers import audio

RATE = 44_100


def reference(samples: np.ndarray, rate: int, start: float, end: float, buckets: int) -> np.ndarray:
    """Max |sample| over all channels of each bucket, from the whole decoded array."""
    amp = np.abs(np.atleast_2d(samples)).max(axis=0)
    edges = start + (end - start) * np.arange(buckets + 1) / buckets
    idx = np.ceil(edges * rate - 1e-9).astype(int)
    return np.array([amp[a:b].max() if b > a else 0.0 for a, b in itertools.pairwise(idx)])


def stereo_with_bursts(path: Path) -> np.ndarray:
    """6 s of stereo silence; a 0.5 burst on the right only at 2.0-2.5 s, 0.25 on both at 4-5 s."""
    n = 6 * RATE
    t = np.arange(n) / RATE
    left = np.zeros(n, np.float32)
    right = np.zeros(n, np.float32)
    b1 = (t >= 2.0) & (t < 2.5)
    b2 = (t >= 4.0) & (t < 5.0)
    right[b1] = 0.5 * np.sin(2 * np.pi * 300 * t[b1])
    left[b2] = right[b2] = 0.25 * np.sin(2 * np.pi * 200 * t[b2])
    data = np.stack([left, right])
    audio.write_wav(path, data, rate=RATE)
    return audio.decode_all(path)[0]


def test_overview_matches_the_samples_bucket_by_bucket(tmp_path: Path) -> None:
    decoded = stereo_with_bursts(tmp_path / "bursts.wav")
    pk = compute_peaks(tmp_path / "bursts.wav", duration=6.0, buckets=300)
    assert len(pk.peaks) == 300 and pk.start == 0.0
    assert pk.bucket_seconds == pytest.approx(0.02)
    want = reference(decoded, RATE, 0.0, 6.0, 300)
    np.testing.assert_allclose(pk.peaks, want, atol=2e-3)
    peaks = np.array(pk.peaks)
    assert peaks[:100].max() == 0.0  # silence before the first burst
    assert peaks[100:125].min() > 0.45  # the right channel counts
    assert peaks[200:250].max() == pytest.approx(0.25, abs=0.01)


@pytest.mark.parametrize("fmt", ["wav", "mp3", "flac"])
def test_a_detail_span_seeks_and_decodes_only_that_span(tmp_path: Path, fmt: str) -> None:
    decoded = stereo_with_bursts(tmp_path / "bursts.wav")
    path = tmp_path / "bursts.wav" if fmt == "wav" else \
        audio.write_array(tmp_path / f"bursts.{fmt}", decoded, RATE, fmt)
    pk = compute_peaks(path, duration=6.0, buckets=100, start=3.5, end=4.5)
    assert pk.start == 3.5 and pk.bucket_seconds == pytest.approx(0.01)
    peaks = np.array(pk.peaks)
    assert peaks[:45].max() < 0.03  # 3.5-3.95 s: silence (MP3 rings a little)
    assert peaks[55:].min() > 0.2  # 4.05-4.5 s: the second burst
    if fmt != "mp3":  # lossless: exactly the samples
        np.testing.assert_allclose(peaks, reference(decoded, RATE, 3.5, 4.5, 100), atol=2e-3)


def test_an_empty_span_is_refused(tmp_path: Path) -> None:
    stereo_with_bursts(tmp_path / "b.wav")
    with pytest.raises(InvalidAudio):
        compute_peaks(tmp_path / "b.wav", duration=6.0, buckets=10, start=5.0, end=5.0)
