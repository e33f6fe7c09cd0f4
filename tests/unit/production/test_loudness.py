from __future__ import annotations

import numpy as np
import pyloudnorm
import pytest

from tapeworks.audio.decode import rechunk
from tapeworks.production.loudness import (
    LoudnessMeter,
    TruePeakEnvelope,
    TruePeakLimiter,
    TruePeakMeter,
    measure_loudness,
    measure_true_peak,
)
from tests.helpers.audio import RATE, decode_all, speechlike, true_peak_dbtp


def _blocks(x: np.ndarray, n: int = 3000):
    return rechunk([x], n)


@pytest.mark.parametrize("channels", [1, 2])
def test_streaming_meter_matches_pyloudnorm(channels: int) -> None:
    x = speechlike(12.0, seed=channels, channels=channels)
    x[:, RATE * 4 : RATE * 6] *= 0.01  # a quiet stretch for the relative gate
    ref = pyloudnorm.Meter(RATE).integrated_loudness(x.T.astype(np.float64))
    ours = measure_loudness(_blocks(x, 1777), RATE, channels)
    assert abs(ours - ref) < 0.1


def test_meter_on_real_speech_matches_pyloudnorm(jfk) -> None:
    x, rate = decode_all(jfk)
    ref = pyloudnorm.Meter(rate).integrated_loudness(x.T.astype(np.float64))
    meter = LoudnessMeter(rate, x.shape[0])
    for b in _blocks(x, 4410 * 3 + 17):
        meter.add(b)
    assert abs(meter.integrated() - ref) < 0.1


def test_silence_is_minus_infinity() -> None:
    assert measure_loudness(_blocks(np.zeros((2, RATE * 2), np.float32)), RATE, 2) == -np.inf


def test_true_peak_meter_sees_intersample_peaks() -> None:
    # a sine at fs/4 sampled 45 degrees off its peaks: sample peak is 3 dB under the true peak
    n = np.arange(RATE)
    x = np.sin(2 * np.pi * n / 4 + np.pi / 4)[None, :].astype(np.float32) * 0.5
    sample_peak = 20 * np.log10(np.abs(x).max())
    tp = measure_true_peak(_blocks(x), 1)
    assert tp > sample_peak + 2.5
    assert abs(tp - true_peak_dbtp(x)) < 0.2


@pytest.mark.parametrize("drive_db", [0.0, 12.0, 30.0])
def test_limiter_keeps_true_peak_under_ceiling(drive_db: float) -> None:
    x = speechlike(6.0, seed=3, channels=2) * np.float32(10 ** (drive_db / 20))
    limiter = TruePeakLimiter(RATE, 2, -1.0)
    y = np.concatenate(list(limiter.process(_blocks(x, 5000))), axis=1)
    assert y.shape == x.shape
    assert true_peak_dbtp(y) <= -1.0
    # quiet parts are left alone: the limiter only reduces, never boosts
    assert np.all(np.abs(y) <= np.abs(x) + 1e-6)


def test_limiter_is_transparent_below_ceiling() -> None:
    x = speechlike(3.0, seed=4) * np.float32(0.2)
    assert true_peak_dbtp(x) < -3
    y = np.concatenate(list(TruePeakLimiter(RATE, 1, -1.0).process(_blocks(x))), axis=1)
    assert np.array_equal(y, x)


def _all_tiles_true_peak(x: np.ndarray, block: int) -> float:
    """The reference: every sample of every tile oversampled (a floor of zero)."""
    env = TruePeakEnvelope(x.shape[0])
    peak = 0.0
    for b in [*_blocks(x, block), np.zeros((x.shape[0], 12), np.float32)]:
        peak = max(peak, float(env.process(b, 0.0).max()))
    return peak


@pytest.mark.parametrize(("seed", "block"), [(1, 3000), (2, 256), (3, 44100), (4, 777)])
def test_true_peak_meter_is_exactly_the_all_tiles_maximum(seed: int, block: int) -> None:
    # the meter oversamples only the tiles that could hold the maximum: none may be missed
    rng = np.random.default_rng(seed)
    x = speechlike(4.0, seed=seed, channels=2) * np.float32(rng.uniform(0.5, 6.0))
    # one lone inter-sample peak in a quiet stretch: a sine at fs/4 sampled off its peaks
    n = np.arange(400)
    x[1, 30000:30400] = 0.9 * np.sin(2 * np.pi * n / 4 + np.pi / 4)
    meter = TruePeakMeter(2)
    for b in _blocks(x, block):
        meter.add(b)
    meter.finish()
    assert meter.peak == pytest.approx(_all_tiles_true_peak(x, block), rel=1e-6)
