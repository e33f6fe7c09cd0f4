"""MP3 encoded on several processes in segments decodes like one encoder, join for join."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tapeworks.audio.decode import decode_blocks, rechunk
from tapeworks.production.encode import Tags, encode
from tapeworks.production.mp3_worker import encode_segment
from tapeworks.production.parallel_mp3 import FRAME, EncoderFailed, encode_mp3_parallel
from tests.helpers.audio import RATE, speechlike, write_wav


def _decode(path: Path, channels: int) -> np.ndarray:
    return np.concatenate(list(decode_blocks(path, RATE, channels, RATE)), axis=1)


def _single(tmp_path: Path, audio: np.ndarray) -> np.ndarray:
    """One reservoir-less encoder over the whole stream, muxed with the same code."""
    out = tmp_path / "single.mp3"
    encode_mp3_parallel(rechunk([audio], 4096), out, rate=RATE, channels=audio.shape[0],
                        segment_frames=10**9)
    return _decode(out, audio.shape[0])


@pytest.mark.parametrize(("seconds", "channels"), [(9.0, 2), (31.3, 2), (25.0, 1)])
def test_segments_join_like_one_encoder(tmp_path: Path, seconds: float, channels: int) -> None:
    audio = speechlike(seconds, seed=3, channels=channels) * 3
    out = tmp_path / "par.mp3"
    n = encode_mp3_parallel(rechunk([audio], 5000), out, rate=RATE, channels=channels,
                            segment_frames=100)  # joins every 2.6 s
    assert n == audio.shape[1]
    got = _decode(out, channels)
    ref = _single(tmp_path, audio)
    assert got.shape == ref.shape == audio.shape  # encoder delay and padding in the LAME tag
    assert _snr(audio, got) > 15
    # around every join the coding error is that of one encoder (within 0.5 dB)
    for k in range(1, int(seconds * RATE) // (100 * FRAME)):
        j = k * 100 * FRAME
        w = slice(j - 2 * FRAME, j + 2 * FRAME)
        assert _snr(audio[:, w], got[:, w]) == pytest.approx(_snr(audio[:, w], ref[:, w]), abs=0.5), k


def _snr(ref: np.ndarray, got: np.ndarray) -> float:
    e = (got - ref).astype(np.float64)
    return float(10 * np.log10(np.sum(ref.astype(np.float64) ** 2) / np.sum(e**2)))


def test_encode_uses_it_for_mp3_and_keeps_the_tags(tmp_path: Path) -> None:
    from mutagen.id3 import ID3

    audio = speechlike(25.0, seed=4, channels=2)
    result = encode(rechunk([audio], 8192), tmp_path / "ep.mp3", fmt="mp3", rate=RATE, channels=2,
                    tags=Tags(title="Episode 1", chapters=((0.0, "Start"), (12.0, "Middle"))))
    assert result.samples == audio.shape[1]
    assert _decode(result.path, 2).shape == audio.shape
    id3 = ID3(str(result.path))
    assert str(id3["TIT2"]) == "Episode 1" and len(id3.getall("CHAP")) == 2
    assert not list(tmp_path.glob(".*.part"))


def test_a_worker_failure_is_an_error_and_leaves_no_file(tmp_path: Path) -> None:
    audio = speechlike(25.0, seed=4, channels=2)
    with pytest.raises(EncoderFailed):
        encode(rechunk([audio], 8192), tmp_path / "ep.mp3", fmt="mp3", rate=RATE, channels=2,
               bitrate=-5)
    assert list(tmp_path.iterdir()) == []


def test_encode_segment_keeps_the_frames_asked_for() -> None:
    audio = speechlike(3.0, seed=1)
    every = encode_segment(audio, 0, None, RATE, 128000, 7)
    some = encode_segment(audio, 2, 5, RATE, 128000, 7)
    assert [p[0] for p in some] == [p[0] for p in every[2:7]]
    assert every[0][3] and not every[1][3]  # the encoder delay rides on the first packet


def test_a_wav_source_round_trip_through_produce_stays_in_sync(tmp_path: Path) -> None:
    from tapeworks.production.pipeline import produce
    from tapeworks.transcripts.model import Transcript

    audio = speechlike(40.0, seed=8, channels=2)
    src = write_wav(tmp_path / "src.wav", audio)
    result = produce(src, Transcript(), tmp_path / "ep.mp3")
    assert abs(result.duration_seconds - 40.0) < 0.01
    decoded = _decode(result.output_path, 2)
    assert abs(decoded.shape[1] - round(40.0 * RATE)) <= 1


@pytest.mark.parametrize("samples", [1, 500, FRAME, 3 * FRAME + 7])
def test_tiny_streams_keep_their_length(tmp_path: Path, samples: int) -> None:
    audio = speechlike(1.0, seed=2)[:, :samples] * 3
    out = tmp_path / "tiny.mp3"
    assert encode_mp3_parallel(iter([audio]), out, rate=RATE, channels=1) == samples
    assert _decode(out, 1).shape[1] == samples
