"""Assembly: intro + programme + outro with overlaps, and a ducked music bed, streaming.

Each input is a `Track`: a block stream placed at a sample offset with a gain and an
optional per-sample envelope (fades, ducking). `mix_tracks` sums the tracks block by
block, pulling from each track only the samples of the current block, so memory is a
few blocks per track whatever the episode's length.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tapeworks.audio.decode import Block, BlockReader, decode_blocks

Envelope = Callable[[int, int], np.ndarray]  # (first sample, count) -> gain per sample


@dataclass
class Track:
    blocks: Iterable[Block]
    start: int  # output sample where the track begins
    length: int  # samples the track contributes (it is cut or padded with silence to this)
    gain: float = 1.0
    envelope: Envelope | None = None  # in the track's own sample positions
    _reader: BlockReader | None = field(default=None, init=False, repr=False)


def fade_envelope(
    length: int, fade_in: int, fade_out: int, *, equal_power: bool = True
) -> Envelope:
    """Fade in over the first `fade_in` samples and out over the last `fade_out`."""

    def env(first: int, count: int) -> np.ndarray:
        if first >= fade_in and first + count <= length - fade_out:
            return np.ones(count, np.float32)
        pos = np.arange(first, first + count, dtype=np.float64)
        g = np.ones(count)
        if fade_in > 0:
            g = np.minimum(g, np.clip((pos + 0.5) / fade_in, 0.0, 1.0))
        if fade_out > 0:
            g = np.minimum(g, np.clip((length - pos - 0.5) / fade_out, 0.0, 1.0))
        if equal_power:
            g = np.sin(0.5 * np.pi * g)
        return g.astype(np.float32)

    return env


def ducking_envelope(
    speech: Sequence[tuple[int, int]], depth_db: float, attack: int, release: int
) -> Envelope:
    """Gain that dips by `depth_db` under speech.

    The speech map is known in advance, so the dip starts `attack` samples before each
    speech interval and is complete when it starts; after it ends the gain returns
    over `release` samples. The ramps are linear in dB.
    """
    starts = np.array([a for a, _ in speech], np.float64)
    ends_max = (
        np.maximum.accumulate(np.array([b for _, b in speech], np.float64)) if speech else starts
    )
    attack_len, release_len = max(attack, 1), max(release, 1)
    log_gain = np.float32(-depth_db / 20.0 * np.log(10.0))

    def depth_at(pos: np.ndarray) -> np.ndarray:
        # the larger of the release after the intervals started so far (the one ending
        # last) and the attack before the next one to start
        idx = np.searchsorted(starts, pos, side="right") - 1
        fall = 1.0 - (pos - ends_max[np.maximum(idx, 0)]) / release_len
        fall[idx < 0] = 0.0
        rise = (pos - starts[np.minimum(idx + 1, len(starts) - 1)] + attack) / attack_len
        rise[idx + 1 >= len(starts)] = 0.0
        return np.clip(np.maximum(fall, rise), 0.0, 1.0)

    def env(first: int, count: int) -> np.ndarray:
        if not speech:
            return np.ones(count, np.float32)
        last = first + count - 1
        lo = int(np.searchsorted(ends_max, first - release, side="left"))
        hi = int(np.searchsorted(starts, last + attack, side="right"))
        if hi <= lo:
            return np.ones(count, np.float32)
        # The dip is piecewise linear: exact at its corners and where a release meets the
        # next attack, linear between them.
        a, b = starts[lo:hi], ends_max[lo:hi]
        crossings = (
            b[:-1] * attack_len + (a[1:] - attack) * release_len + attack_len * release_len
        ) / (attack_len + release_len)
        corners = np.concatenate(
            [a - attack, a - attack + attack_len, b, b + release_len, crossings, [first, last]]
        )
        corners = np.unique(corners[(corners >= first) & (corners <= last)])
        depth = np.interp(np.arange(first, last + 1, dtype=np.float64), corners, depth_at(corners))
        if not depth.any():
            return np.ones(count, np.float32)
        return np.exp(depth.astype(np.float32) * log_gain)

    return env


def combine(*envelopes: Envelope | None) -> Envelope | None:
    present = [e for e in envelopes if e is not None]
    if not present:
        return None

    def env(first: int, count: int) -> np.ndarray:
        g = np.ones(count, np.float32)
        for e in present:
            g *= e(first, count)
        return g

    return env


def shifted(envelope: Envelope, offset: int) -> Envelope:
    """An envelope given in output positions, seen from a track starting at `offset`."""
    return lambda first, count: envelope(first + offset, count)


def looped_blocks(path: Path, rate: int, channels: int, block_samples: int) -> Iterator[Block]:
    """Decode `path` again and again (a music bed shorter than the programme)."""
    while True:
        produced = 0
        for block in decode_blocks(path, rate, channels, block_samples):
            produced += block.shape[1]
            yield block
        if produced == 0:
            return


def mix_tracks(
    tracks: Sequence[Track], total: int, channels: int, block_samples: int
) -> Iterator[Block]:
    """Sum the tracks into `total` samples of output, block by block."""
    for track in tracks:
        track._reader = BlockReader(track.blocks, channels)
    position = 0
    while position < total:
        n = min(block_samples, total - position)
        out: Block | None = None
        for track in tracks:
            part = _track_part(track, position, n, channels)
            if part is None:
                continue
            if out is None and len(tracks) == 1 and part.shape[1] == n:
                out = part
                continue
            if out is None:
                out = np.zeros((channels, n), np.float32)
            out += part if part.shape[1] == n else _pad(part, n)
        yield out if out is not None else np.zeros((channels, n), np.float32)
        position += n


def _track_part(track: Track, position: int, n: int, channels: int) -> Block | None:
    """The track's contribution to output samples [position, position + n), or None."""
    lo = max(position, track.start)
    hi = min(position + n, track.start + track.length)
    if hi <= lo:
        return None
    assert track._reader is not None
    local = lo - track.start
    track._reader.skip(local - track._reader.position)
    data = track._reader.read(hi - lo)
    if data.shape[1] < hi - lo:
        data = _pad(data, hi - lo)
    if track.gain != 1.0:
        data = data * np.float32(track.gain)
    if track.envelope is not None:
        data = data * track.envelope(local, hi - lo)
    if lo == position and hi == position + n:
        return data
    out = np.zeros((channels, n), np.float32)
    out[:, lo - position : hi - position] = data
    return out


def _pad(block: Block, n: int) -> Block:
    out = np.zeros((block.shape[0], n), np.float32)
    out[:, : block.shape[1]] = block
    return out
