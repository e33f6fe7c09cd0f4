"""A mono source decoded as stereo keeps its level in both channels whether or not it is
resampled on the way (FFmpeg's own upmix would lower it by 3 dB), and a stereo source
decoded as mono is the mean of its channels either way: multitrack levelling relies on it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tapeworks.audio.decode import decode_blocks
from tests.helpers.audio import RATE, speechlike, write_wav


def _decode(path: Path, channels: int) -> np.ndarray:
    return np.concatenate(list(decode_blocks(path, RATE, channels, RATE)), axis=1)


def _rms_db(x: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(x.astype(np.float64) ** 2))))


@pytest.mark.parametrize("source_rate", [RATE, 48000, 22050])
def test_mono_as_stereo_keeps_its_level(tmp_path: Path, source_rate: int) -> None:
    mono = speechlike(4.0, seed=1, rate=source_rate)
    path = write_wav(tmp_path / "mono.wav", mono, rate=source_rate)
    as_mono, as_stereo = _decode(path, 1), _decode(path, 2)
    assert as_stereo.shape == (2, as_mono.shape[1])
    assert np.array_equal(as_stereo[0], as_mono[0]) and np.array_equal(as_stereo[1], as_mono[0])
    assert _rms_db(as_stereo[0]) == pytest.approx(_rms_db(mono), abs=0.1)


@pytest.mark.parametrize("source_rate", [RATE, 48000])
def test_stereo_as_mono_is_the_mean_of_the_channels(tmp_path: Path, source_rate: int) -> None:
    left, right = (
        speechlike(3.0, seed=2, rate=source_rate),
        speechlike(3.0, seed=3, rate=source_rate) * 0.5,
    )
    path = write_wav(tmp_path / "stereo.wav", np.vstack([left, right]), rate=source_rate)
    stereo, mono = _decode(path, 2), _decode(path, 1)
    assert np.allclose(mono[0], stereo.mean(axis=0), atol=1e-6)
