"""Lossless files at the rate asked for are read by libsndfile instead of PyAV (no
interpreter lock, exact positions): the samples must be the very ones PyAV gives, the
excerpts of the cut check must line up with the whole-file decode, and anything else
(another rate, a lossy codec, a damaged file) must still go through PyAV."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tapeworks.audio import decode as dec
from tapeworks.audio.decode import decode_blocks, decode_excerpts, excerpts_seekable, rechunk
from tapeworks.errors import InvalidAudio
from tests.helpers.audio import RATE, speechlike, write_array, write_random_bytes


def _pyav(path: Path, rate: int, channels: int) -> np.ndarray:
    """The whole file through PyAV, as before the fast path."""
    return np.concatenate(list(rechunk(dec._decoded_frames(path, rate, channels), 4096)), axis=1)


def _ours(path: Path, rate: int, channels: int, block: int = 3001) -> np.ndarray:
    blocks = list(decode_blocks(path, rate, channels, block))
    assert all(b.shape[1] == block for b in blocks[:-1]) and blocks[-1].shape[1] <= block
    assert all(b.dtype == np.float32 for b in blocks)
    return np.concatenate(blocks, axis=1)


def _write(path: Path, x: np.ndarray, subtype: str, fmt: str, rate: int = RATE) -> Path:
    sf.write(str(path), np.ascontiguousarray(x.T), rate, subtype=subtype, format=fmt)
    return path


@pytest.mark.parametrize(
    ("name", "subtype", "fmt"),
    [("a.wav", "PCM_16", "WAV"), ("b.wav", "PCM_24", "WAV"), ("c.wav", "PCM_U8", "WAV"),
     ("d.wav", "FLOAT", "WAV"), ("e.flac", "PCM_16", "FLAC"), ("f.flac", "PCM_24", "FLAC"),
     ("g.aiff", "PCM_16", "AIFF")],
)
@pytest.mark.parametrize("source_channels", [1, 2])
def test_the_samples_are_the_ones_pyav_decodes(
    tmp_path: Path, name: str, subtype: str, fmt: str, source_channels: int
) -> None:
    x = np.vstack([speechlike(2.5, seed=c, rate=RATE) * 4 for c in range(source_channels)])
    x[:, 1000:1010] = [[1.0], [-1.0]][:source_channels]  # full scale both ways
    path = _write(tmp_path / name, x, subtype, fmt)
    assert dec._lossless_reader(path, RATE) is not None  # the fast path is taken
    for channels in (1, 2):
        ours, theirs = _ours(path, RATE, channels), _pyav(path, RATE, channels)
        assert ours.shape == theirs.shape
        assert np.array_equal(ours, theirs), f"{name} {subtype} as {channels} channel(s)"


def test_other_rates_and_lossy_files_go_through_pyav(tmp_path: Path) -> None:
    x = speechlike(2.0, seed=4, rate=48000)
    wav = _write(tmp_path / "48k.wav", x, "PCM_16", "WAV", rate=48000)
    mp3 = write_array(tmp_path / "a.mp3", speechlike(2.0, seed=5, rate=RATE), RATE, "mp3")
    assert dec._lossless_reader(wav, RATE) is None  # resampling: FFmpeg's resampler as before
    assert dec._lossless_reader(mp3, RATE) is None  # lossy: FFmpeg's own delay handling
    assert not excerpts_seekable(mp3) and excerpts_seekable(wav)
    assert np.array_equal(_ours(wav, RATE, 1), _pyav(wav, RATE, 1))
    assert np.array_equal(_ours(mp3, RATE, 2), _pyav(mp3, RATE, 2))


def test_a_damaged_file_is_refused_in_the_users_words(tmp_path: Path) -> None:
    junk = write_random_bytes(tmp_path / "junk.wav")
    with pytest.raises(InvalidAudio, match="not a readable audio file"):
        list(decode_blocks(junk, RATE, 1, RATE))
    # a WAV cut short in its data: what is there is read, as PyAV reads it
    path = _write(tmp_path / "cut.wav", speechlike(3.0, seed=6, rate=RATE), "PCM_16", "WAV")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2 + 1])
    ours, theirs = _ours(path, RATE, 1), _pyav(path, RATE, 1)
    assert ours.shape == theirs.shape and np.array_equal(ours, theirs)


@pytest.mark.parametrize("rate", [RATE, 16000])
def test_excerpts_line_up_with_the_whole_file(tmp_path: Path, rate: int) -> None:
    x = np.vstack([speechlike(12.0, seed=7, rate=rate), speechlike(12.0, seed=8, rate=rate)])
    path = _write(tmp_path / "e.wav", x, "PCM_16", "WAV", rate=rate)
    zones = [(0.0, 1.3), (2.05, 4.5), (7.25, 12.0)]
    got = list(decode_excerpts(path, zones))
    assert [z for z, _ in got] == [z0 for z0, _ in zones]
    # the reference: the whole file to 16 kHz mono through PyAV, cut at the zones
    whole = np.concatenate(list(rechunk(dec._decoded_frames(path, 16000, 1), 16000)), axis=1)[0]
    for (z0, z1), (_, samples) in zip(zones, got, strict=True):
        want = whole[round(z0 * 16000) : round(z1 * 16000)]
        assert abs(len(samples) - len(want)) <= 1
        n = min(len(samples), len(want))
        a, b = samples[64 : n - 64], want[64 : n - 64]  # resampler edges aside
        lag = int(np.argmax(np.correlate(a[:4000], b[:4000], "full"))) - 3999
        assert lag == 0
        assert np.sqrt(np.mean((a - b) ** 2)) < 0.01 * np.sqrt(np.mean(b**2)) + 1e-4
