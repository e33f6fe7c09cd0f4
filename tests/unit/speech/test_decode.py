from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from tapeworks.audio.decode import SPEECH_RATE, iter_chunks, read_all
from tapeworks.audio.probe import read_info
from tapeworks.errors import InvalidAudio
from tests.helpers.audio import encode, tone_bursts

CASES = [
    ("a.wav", "pcm_s16le", 44_100),
    ("a.flac", "flac", 44_100),
    ("a.mp3", "libmp3lame", 44_100),
    ("a.ogg", "libopus", 48_000),
    ("a.opus", "libopus", 48_000),
    ("a.m4a", "aac", 44_100),
]


@pytest.mark.parametrize(("name", "codec", "rate"), CASES)
def test_decodes_formats_to_16k_mono_float(tmp_path: Path, name: str, codec: str, rate: int) -> None:
    path = encode(tmp_path / name, tone_bursts([(0.5, 1.5)], 3.0), codec, rate)
    audio = read_all(path)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert abs(len(audio) / SPEECH_RATE - 3.0) < 0.1
    loud = np.flatnonzero(np.abs(audio) > 0.1) / SPEECH_RATE
    assert 0.4 < loud.min() < 0.7 and 1.3 < loud.max() < 1.7
    assert abs(read_info(path).duration_seconds - 3.0) < 0.1


def _write_long_wav(path: Path, seconds: int) -> None:
    rng = np.random.default_rng(0)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(44_100)
        for _ in range(seconds // 10):
            block = (rng.standard_normal((441_000, 2)) * 3000).astype("<i2")
            out.writeframes(block.tobytes())


def test_long_file_comes_in_bounded_chunks(tmp_path: Path) -> None:
    """Rule 11: decoding a 20-minute file never yields (or holds) more than one chunk."""
    path = tmp_path / "long.wav"
    _write_long_wav(path, 1200)
    sizes, starts = [], []
    for chunk in iter_chunks(path, chunk_seconds=10.0):
        sizes.append(len(chunk.samples))
        starts.append(chunk.start)
    assert max(sizes) == 10 * SPEECH_RATE
    assert len(sizes) == 120
    assert abs(sum(sizes) / SPEECH_RATE - 1200) < 0.1
    assert starts == sorted(starts) and starts[1] == 10.0


@pytest.mark.parametrize("content", [b"", b"this is not audio at all" * 100])
def test_undecodable_files_raise_invalid_audio(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.mp3"
    path.write_bytes(content)
    with pytest.raises(InvalidAudio):
        list(iter_chunks(path))


def test_missing_file_raises_invalid_audio(tmp_path: Path) -> None:
    with pytest.raises(InvalidAudio, match="does not exist"):
        read_info(tmp_path / "nope.wav")
