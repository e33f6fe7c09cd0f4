"""Loudness (ITU-R BS.1770-4 / EBU R128) measured streaming, gain, and a true-peak limiter.

Integrated loudness is measured in bounded memory: the signal is K-weighted with the
same filters pyloudnorm uses (carried filter state between blocks), mean squares are
summed per 100 ms hop, and each 400 ms gating block (4 hops, 75 % overlap) goes into
a 0.01 LU histogram holding counts and energy sums (the libebur128 "histogram mode").
The absolute (-70 LUFS) and relative (-10 LU) gates are then applied to the histogram,
so memory is constant whatever the length, and the result matches pyloudnorm on the
whole array within a few hundredths of a LU (checked in the tests).

True peak is estimated with 4x oversampling (48-tap polyphase FIR). Only 256-sample
tiles whose sample peak is within 6 dB of the level of interest are oversampled: an
inter-sample peak exceeds the sample peak by at most about 3 dB for audio, so the
others cannot matter, and skipping them is what makes the limiter cheap.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator

import numpy as np
import pyloudnorm
from scipy import ndimage, signal

from tapeworks.audio.decode import Block

_BIN_LU = 0.01
_HIST_LOW = -70.0
_HIST_HIGH = 10.0
_N_BINS = int((_HIST_HIGH - _HIST_LOW) / _BIN_LU) + 1
_OVERSAMPLE = 4
_FIR_TAPS = 48
_PHASE_TAPS = _FIR_TAPS // _OVERSAMPLE
_TILE = 256
_GUARD_DB = 6.0
# Group delay of the interpolator in input samples: its output at index n estimates
# the signal between n - 6 and n - 5.
_TP_DELAY = 6
_BATCH = 32  # tiles oversampled at once by the meter


def db_to_gain(db: float) -> float:
    return float(10.0 ** (db / 20.0))


def gain_to_db(gain: float) -> float:
    return 20.0 * math.log10(gain) if gain > 0 else -math.inf


def k_weighting_sos(rate: int) -> np.ndarray:
    """The BS.1770 K-weighting (pre-filter and RLB high-pass) as second-order sections."""
    meter = pyloudnorm.Meter(rate)
    sections = []
    for stage in meter._filters.values():
        b = np.asarray(stage.b, dtype=np.float64) * float(stage.passband_gain)
        a = np.asarray(stage.a, dtype=np.float64)
        sections.append(np.concatenate([b / a[0], a / a[0]]))
    return np.array(sections)


class LoudnessMeter:
    """Streaming integrated loudness (LUFS) with constant memory."""

    def __init__(self, rate: int, channels: int) -> None:
        self.rate = rate
        self.channels = channels
        # float32 filtering: twice as fast as float64, within 0.001 LU of it (the tests
        # compare with pyloudnorm)
        self._sos = k_weighting_sos(rate).astype(np.float32)
        self._zi = np.zeros((self._sos.shape[0], channels, 2), np.float32)
        self._hop = round(rate * 0.1)
        self._partial = 0.0  # energy of the unfinished hop
        self._partial_len = 0
        self._last_hops: list[float] = []  # up to 3 previous hop energies
        self._hist_count = np.zeros(_N_BINS, np.int64)
        self._hist_energy = np.zeros(_N_BINS, np.float64)
        self.samples = 0

    def add(self, block: Block) -> None:
        if block.shape[1] == 0:
            return
        self.samples += block.shape[1]
        y, self._zi = signal.sosfilt(self._sos, np.asarray(block, np.float32), axis=1, zi=self._zi)
        energy = np.einsum("cn,cn->n", y, y)  # channel weights are 1.0 for L, R (and mono)
        hops = self._complete_hops(energy)
        if hops.size:
            self._add_hops(hops)

    def _complete_hops(self, energy: np.ndarray) -> np.ndarray:
        need = self._hop - self._partial_len
        if energy.size < need:
            self._partial += float(energy.sum())
            self._partial_len += energy.size
            return np.zeros(0)
        first = self._partial + float(energy[:need].sum())
        rest = energy[need:]
        n_full = rest.size // self._hop
        full = rest[: n_full * self._hop].reshape(n_full, self._hop).sum(axis=1)
        tail = rest[n_full * self._hop :]
        self._partial, self._partial_len = float(tail.sum()), tail.size
        return np.concatenate([[first], full])

    def _add_hops(self, hops: np.ndarray) -> None:
        seq = np.concatenate([self._last_hops, hops])
        self._last_hops = list(seq[-3:])
        if seq.size < 4:
            return
        csum = np.concatenate([[0.0], np.cumsum(seq)])
        z = (csum[4:] - csum[:-4]) / (4 * self._hop)  # mean square per 400 ms block
        with np.errstate(divide="ignore"):
            lufs = -0.691 + 10.0 * np.log10(z)
        keep = lufs >= _HIST_LOW
        idx = np.clip(((lufs[keep] - _HIST_LOW) / _BIN_LU).astype(np.int64), 0, _N_BINS - 1)
        np.add.at(self._hist_count, idx, 1)
        np.add.at(self._hist_energy, idx, z[keep])

    def integrated(self) -> float:
        """Gated integrated loudness in LUFS; -inf for silence or audio under 400 ms."""
        count = int(self._hist_count.sum())
        if count == 0:
            return -math.inf
        mean_abs = self._hist_energy.sum() / count
        relative_gate = -0.691 + 10.0 * math.log10(mean_abs) - 10.0
        centres = _HIST_LOW + (np.arange(_N_BINS) + 0.5) * _BIN_LU
        sel = centres > relative_gate
        n = int(self._hist_count[sel].sum())
        if n == 0:
            return -math.inf
        return -0.691 + 10.0 * math.log10(float(self._hist_energy[sel].sum()) / n)


def _interpolator() -> np.ndarray:
    """4x interpolation FIR, polyphase: row p holds the taps of phase p."""
    h = signal.firwin(_FIR_TAPS, 1.0 / _OVERSAMPLE, window=("kaiser", 7.0)) * _OVERSAMPLE
    return np.ascontiguousarray(h.reshape(_PHASE_TAPS, _OVERSAMPLE).T).astype(np.float32)


# The most an interpolated value can exceed the largest of the samples it is made from.
_GAIN_BOUND = float(np.abs(_interpolator()).sum(axis=1).max())


class TruePeakEnvelope:
    """Per-sample 4x-oversampled absolute peak (max over channels), streaming.

    `process(block)` returns one value per input sample; value n describes the signal
    between samples n - 6 and n - 5 (interpolator delay). Tiles whose sample peak is
    more than 6 dB under `floor` are not oversampled: their sample peak is returned.
    """

    def __init__(self, channels: int) -> None:
        self._phases = _interpolator()
        # column p: phase p's taps in input order (the oldest sample first)
        self._by_tap = np.ascontiguousarray(self._phases[:, ::-1].T)
        self._hist = np.zeros((channels, _PHASE_TAPS - 1), np.float32)

    def process(self, block: Block, floor: float) -> np.ndarray:
        n = block.shape[1]
        ext = np.concatenate([self._hist, block], axis=1)
        self._hist = ext[:, -(_PHASE_TAPS - 1) :].copy()
        sample_peak = np.abs(ext).max(axis=0)
        # env[i] describes the signal between samples i - 6 and i - 5 (ext[i + 5], ext[i + 6])
        lo = _PHASE_TAPS - 1 - _TP_DELAY
        env = np.maximum(sample_peak[lo : lo + n], sample_peak[lo + 1 : lo + 1 + n])
        threshold = floor * db_to_gain(-_GUARD_DB)
        n_tiles = -(-n // _TILE)
        padded_env = np.zeros(n_tiles * _TILE, np.float32)
        padded_env[:n] = env
        tiles = np.nonzero(padded_env.reshape(n_tiles, _TILE).max(axis=1) > threshold)[0]
        if tiles.size:
            peaks = self._oversampled(ext, tiles, n_tiles)  # (tiles, _TILE)
            view = padded_env.reshape(n_tiles, _TILE)
            view[tiles] = np.maximum(view[tiles], peaks)
            env = padded_env[:n]
        return env

    def _oversampled(self, ext: np.ndarray, tiles: np.ndarray, n_tiles: int) -> np.ndarray:
        """4x-oversampled |peak| per sample of the selected tiles, all tiles at once: each
        output sample of each phase is a dot product of 12 input samples with the phase's
        taps, one matrix product for all of them."""
        width = _TILE + _PHASE_TAPS - 1
        pad = n_tiles * _TILE + _PHASE_TAPS - 1 - ext.shape[1]
        if pad > 0:
            ext = np.concatenate([ext, np.zeros((ext.shape[0], pad), ext.dtype)], axis=1)
        windows = np.lib.stride_tricks.sliding_window_view(ext, width, axis=1)[:, ::_TILE]
        segs = windows[:, tiles]  # (channels, tiles, width)
        taps = np.lib.stride_tricks.sliding_window_view(segs, _PHASE_TAPS, axis=2)
        rows = np.ascontiguousarray(taps).reshape(-1, _PHASE_TAPS)  # BLAS wants it dense
        out = (rows @ self._by_tap).reshape(segs.shape[0], tiles.size, _TILE * _OVERSAMPLE)
        return np.abs(out).max(axis=0).reshape(tiles.size, _TILE, _OVERSAMPLE).max(axis=2)


class TruePeakMeter:
    """Maximum true peak of a stream (dBTP): the maximum of the 4x-oversampled signal
    (and of the samples), exactly, with only the tiles that could hold it oversampled.

    An interpolated value is a weighted sum of 12 input samples, so it is at most the
    largest of them times the sum of the phase's absolute taps (`_GAIN_BOUND`, 4.8 dB):
    a tile whose samples are all under the running peak by more than that cannot raise
    it. The loudest candidates go first, which raises the running peak early.
    """

    def __init__(self, channels: int) -> None:
        self._env = TruePeakEnvelope(channels)
        self._hist = np.zeros((channels, _PHASE_TAPS - 1), np.float32)
        self.peak = 0.0

    def add(self, block: Block) -> None:
        n = block.shape[1]
        if not n:
            return
        n_tiles, h = -(-n // _TILE), _PHASE_TAPS - 1
        # the history, the block, zeros to whole tiles (the oversampler reads whole tiles)
        ext = np.zeros((self._hist.shape[0], (n_tiles + 1) * _TILE), np.float32)
        ext[:, :h] = self._hist
        ext[:, h : h + n] = block
        self._hist = ext[:, n : n + h].copy()
        by_tile = ext.reshape(ext.shape[0], n_tiles + 1, _TILE)
        tile_max = np.maximum(by_tile.max(axis=2), -by_tile.min(axis=2)).max(axis=0)
        peak = max(self.peak, float(tile_max.max()))
        # tile t's outputs read ext[t*TILE : t*TILE + TILE + 11]: tiles t and t + 1
        bound = np.maximum(tile_max[:-1], tile_max[1:]) * _GAIN_BOUND
        order = np.argsort(-bound)
        order = order[bound[order] > peak]
        while order.size:
            batch, order = order[:_BATCH], order[_BATCH:]
            peak = max(peak, float(self._env._oversampled(ext, np.sort(batch), n_tiles).max()))
            order = order[bound[order] > peak]
        self.peak = peak

    def finish(self) -> None:
        """Feed the interpolator's tail so the last samples are seen too."""
        self.add(np.zeros((self._hist.shape[0], _PHASE_TAPS), np.float32))

    @property
    def dbtp(self) -> float:
        return gain_to_db(self.peak)


def measure_true_peak(blocks: Iterable[Block], channels: int) -> float:
    meter = TruePeakMeter(channels)
    for block in blocks:
        meter.add(block)
    meter.finish()
    return meter.dbtp


def measure_loudness(blocks: Iterable[Block], rate: int, channels: int) -> float:
    meter = LoudnessMeter(rate, channels)
    for block in blocks:
        meter.add(block)
    return meter.integrated()


def apply_gain(blocks: Iterable[Block], gain_db: float) -> Iterator[Block]:
    g = np.float32(db_to_gain(gain_db))
    for block in blocks:
        yield block * g


class TruePeakLimiter:
    """Look-ahead true-peak limiter: the output's 4x-oversampled peak stays under the ceiling.

    Gain reduction (dB) needed per sample comes from the oversampled envelope; it is
    held over the look-ahead window (so the gain is already down when the peak
    arrives), decays exponentially with `release_seconds`, and is smoothed by a
    moving average as long as the look-ahead (the attack ramp). Output length equals
    input length; the limiter delays internally and flushes at the end.
    """

    def __init__(
        self,
        rate: int,
        channels: int,
        ceiling_dbtp: float = -1.0,
        *,
        lookahead_seconds: float = 0.005,
        release_seconds: float = 0.15,
        safety_db: float = 0.2,
    ) -> None:
        self.channels = channels
        self.ceiling_db = ceiling_dbtp - safety_db
        self._ceiling = db_to_gain(self.ceiling_db)
        self._la = max(1, round(lookahead_seconds * rate))
        self._lh = self._la + _TP_DELAY  # samples of future needed per output sample
        self._log_release = -1.0 / max(1.0, release_seconds * rate)
        self._env = TruePeakEnvelope(channels)
        self._audio = np.zeros((channels, 0), np.float32)
        self._need = np.zeros(0, np.float32)
        self._gr_hist = np.zeros(self._la, np.float64)  # last GR values (moving average)
        self._gr_prev = 0.0
        self.max_reduction_db = 0.0
        self._started = False

    def process(self, blocks: Iterable[Block]) -> Iterator[Block]:
        for block in blocks:
            out = self._push(block, flush=False)
            if out.shape[1]:
                yield out
        tail = self._env.process(np.zeros((self.channels, _TP_DELAY), np.float32), self._ceiling)
        self._need = np.concatenate([self._need, self._reduction(tail)])
        out = self._push(np.zeros((self.channels, 0), np.float32), flush=True)
        if out.shape[1]:
            yield out

    def _reduction(self, env: np.ndarray) -> np.ndarray:
        over = np.zeros(env.size, np.float32)
        loud = np.flatnonzero(env > self._ceiling)  # usually few samples: only those get a log
        if loud.size:
            over[loud] = 20.0 * np.log10(env[loud] / np.float32(self._ceiling))
        return over

    def _push(self, block: Block, *, flush: bool) -> Block:
        if block.shape[1]:
            env = self._env.process(block, self._ceiling)
            self._need = np.concatenate([self._need, self._reduction(env)])
            self._audio = np.concatenate([self._audio, block], axis=1)
        n_audio = self._audio.shape[1]
        # need[i] describes audio sample i - 6 .. i - 5 (see TruePeakEnvelope)
        k = n_audio if flush else max(0, n_audio - self._la - _TP_DELAY - 1)
        if flush:
            pad = self._lh + 2 - (self._need.size - n_audio)
            if pad > 0:
                self._need = np.concatenate([self._need, np.zeros(pad, np.float32)])
        if k == 0:
            return np.zeros((self.channels, 0), np.float32)
        gains = self._gains(k)
        out = self._audio[:, :k] * gains
        self._audio = self._audio[:, k:]
        self._need = self._need[k:]
        return out

    def _gains(self, k: int) -> np.ndarray:
        # held[m] = max(need[m+5 .. m+la+6]): the look-ahead maximum for output sample m
        window = self._need[_TP_DELAY - 1 : k + self._la + _TP_DELAY + 1]
        if not window.any() and self._gr_prev < 1e-4:
            self._gr_prev = 0.0
            self._gr_hist[:] = 0.0
            self._started = True
            return np.ones(k, np.float32)
        size = self._la + 2
        held = ndimage.maximum_filter1d(
            window, size=size, origin=-(size // 2), mode="constant", cval=0.0
        )[:k].astype(np.float64)
        if not self._started:
            # before the stream the gain is taken as already reduced, so the first
            # samples get the full reduction instead of a ramp from unity
            self._gr_hist[:] = held[: self._la + 1].max()
        self._started = True
        gr = self._release(held)
        smooth = self._moving_average(gr)
        self.max_reduction_db = max(self.max_reduction_db, float(smooth.max(initial=0.0)))
        return np.power(10.0, -smooth / 20.0).astype(np.float32)

    def _release(self, held: np.ndarray) -> np.ndarray:
        """gr[m] = max(held[m], gr[m-1] * exp(-1/release)), vectorised in the log domain."""
        k = held.size
        c = self._log_release
        idx = np.arange(-1, k, dtype=np.float64)
        vals = np.concatenate([[self._gr_prev], held])
        with np.errstate(divide="ignore"):
            logs = np.log(np.maximum(vals, 0.0)) - idx * c
        run = np.maximum.accumulate(logs)
        gr = np.exp(run + idx * c)[1:]
        self._gr_prev = float(gr[-1])
        return gr

    def _moving_average(self, gr: np.ndarray) -> np.ndarray:
        la = self._la
        ext = np.concatenate([self._gr_hist, gr])
        csum = np.concatenate([[0.0], np.cumsum(ext)])
        avg = (csum[la + 1 :] - csum[: -la - 1]) / (la + 1)
        # ensure avg has one value per gr sample: window [m - la, m]
        self._gr_hist = ext[-la:].copy()
        return avg[-gr.size :]
