"""MP3 encoded by LAME (the one lameenc ships): in segments on encoder threads joined like
one encoder, or on an encoder process; decodes to exactly the samples sent, in sync, close
to the input, with the tags; failures are errors and leave no file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tapeworks.audio.decode import decode_blocks, rechunk
from tapeworks.production import lame, mp3
from tapeworks.production.encode import Tags, encode
from tapeworks.production.lame import LameError, frame_length
from tapeworks.production.mp3 import (
    EncoderFailed,
    encode_mp3_process,
    encode_mp3_segments,
)
from tapeworks.production.mp3_worker import to_pcm16
from tests.helpers.audio import RATE, speechlike, write_wav

FRAME = 1152


def _decode(path: Path, channels: int) -> np.ndarray:
    return np.concatenate(list(decode_blocks(path, RATE, channels, RATE)), axis=1)


def _snr(ref: np.ndarray, got: np.ndarray) -> float:
    e = (got - ref).astype(np.float64)
    return float(10 * np.log10(np.sum(ref.astype(np.float64) ** 2) / np.sum(e**2)))


ENCODERS = {"segments": encode_mp3_segments, "process": encode_mp3_process}


def test_lames_c_api_is_there() -> None:
    assert lame.available()  # else renders fall back to the slower single encoder process


@pytest.mark.parametrize("encoder", sorted(ENCODERS))
@pytest.mark.parametrize(("seconds", "channels"), [(31.3, 2), (25.0, 1), (9.0, 2)])  # 9 s: inline
def test_decodes_to_the_samples_sent_in_sync(
    tmp_path: Path, seconds: float, channels: int, encoder: str
) -> None:
    audio = speechlike(seconds, seed=3, channels=channels) * 3
    out = tmp_path / "ep.mp3"
    n = ENCODERS[encoder](rechunk([audio], 5000), out, rate=RATE, channels=channels)
    assert n == audio.shape[1]
    got = _decode(out, channels)
    assert got.shape == audio.shape  # encoder delay and padding in the LAME tag
    assert _snr(audio, got) > 15  # one sample out of step would give about 0 dB
    # in sync everywhere: every 2 s window is as close as the whole
    for k in range(int(seconds) // 2):
        w = slice(k * 2 * RATE, (k + 1) * 2 * RATE)
        if np.abs(audio[:, w]).max() > 0.01:
            assert _snr(audio[:, w], got[:, w]) > 10, k


@pytest.mark.parametrize(("seconds", "channels"), [(9.0, 2), (31.3, 2), (25.0, 1)])
def test_segments_join_like_one_encoder(tmp_path: Path, seconds: float, channels: int) -> None:
    audio = speechlike(seconds, seed=3, channels=channels) * 3
    out, one = tmp_path / "par.mp3", tmp_path / "one.mp3"
    n = encode_mp3_segments(
        rechunk([audio], 5000), out, rate=RATE, channels=channels, segment_frames=100
    )  # joins every 2.6 s
    assert n == audio.shape[1]
    encode_mp3_segments(
        rechunk([audio], 4096), one, rate=RATE, channels=channels, segment_frames=10**9
    )
    got, ref = _decode(out, channels), _decode(one, channels)
    assert got.shape == ref.shape == audio.shape
    assert _snr(audio, got) > 15
    # around every join the coding error is that of one encoder (within 0.5 dB)
    for k in range(1, int(seconds * RATE) // (100 * FRAME)):
        j = k * 100 * FRAME
        w = slice(j - 2 * FRAME, j + 2 * FRAME)
        assert _snr(audio[:, w], got[:, w]) == pytest.approx(
            _snr(audio[:, w], ref[:, w]), abs=0.5
        ), k


def test_long_streams_go_to_the_encoder_process(tmp_path: Path) -> None:
    audio = speechlike(12.0, seed=5, channels=2)
    mp3.last_worker_peak_kib = 0
    encode_mp3_process(
        rechunk([audio], 8192), tmp_path / "a.mp3", rate=RATE, channels=2, inline_seconds=5.0
    )
    assert mp3.last_worker_peak_kib > 0  # a worker ran
    mp3.last_worker_peak_kib = 0
    encode_mp3_process(
        rechunk([audio], 8192), tmp_path / "b.mp3", rate=RATE, channels=2, inline_seconds=20.0
    )
    assert mp3.last_worker_peak_kib == 0  # encoded in this process
    assert (tmp_path / "a.mp3").read_bytes() == (tmp_path / "b.mp3").read_bytes()


def test_encode_uses_it_for_mp3_and_keeps_the_tags(tmp_path: Path) -> None:
    from mutagen.id3 import ID3

    audio = speechlike(25.0, seed=4, channels=2)
    result = encode(
        rechunk([audio], 8192),
        tmp_path / "ep.mp3",
        fmt="mp3",
        rate=RATE,
        channels=2,
        tags=Tags(title="Episode 1", chapters=((0.0, "Start"), (12.0, "Middle"))),
    )
    assert result.samples == audio.shape[1]
    assert _decode(result.path, 2).shape == audio.shape
    id3 = ID3(str(result.path))
    assert str(id3["TIT2"]) == "Episode 1" and len(id3.getall("CHAP")) == 2
    assert not list(tmp_path.glob(".*.part"))


@pytest.mark.parametrize("seconds", [25.0, 2.0])
def test_an_encoder_failure_is_an_error_and_leaves_no_file(tmp_path: Path, seconds: float) -> None:
    audio = speechlike(seconds, seed=4, channels=2)
    with pytest.raises(EncoderFailed):
        encode(
            rechunk([audio], 8192),
            tmp_path / "ep.mp3",
            fmt="mp3",
            rate=RATE,
            channels=2,
            bitrate=-5,
        )
    assert list(tmp_path.iterdir()) == []


def test_a_render_that_fails_midway_stops_the_worker_and_leaves_no_file(tmp_path: Path) -> None:
    audio = speechlike(30.0, seed=4, channels=2)

    def blocks():  # a render that fails
        yield from rechunk([audio[:, : 15 * RATE]], 8192)
        raise RuntimeError("render failed")

    with pytest.raises(RuntimeError, match="render failed"):
        encode(blocks(), tmp_path / "ep.mp3", fmt="mp3", rate=RATE, channels=2)
    assert list(tmp_path.iterdir()) == []


def test_frame_lengths_and_pcm() -> None:
    assert frame_length(0xFFFB9064) == (417, 1152)  # MPEG-1 L3 128 kbit/s 44.1 kHz
    assert frame_length(0xFFFB9264) == (418, 1152)  # the same, padded
    with pytest.raises(LameError):
        frame_length(0x12345678)
    pcm = np.frombuffer(to_pcm16(np.array([[0.5, -1.5], [1.0, 0.0]], np.float32)), "<i2")
    assert pcm.tolist() == [16384, 32767, -32768, 0]  # interleaved, clipped


def test_a_wav_source_round_trip_through_produce_stays_in_sync(tmp_path: Path) -> None:
    from tapeworks.production.pipeline import produce
    from tapeworks.transcripts.model import Transcript

    audio = speechlike(40.0, seed=8, channels=2)
    src = write_wav(tmp_path / "src.wav", audio)
    result = produce(src, Transcript(), tmp_path / "ep.mp3")
    assert abs(result.duration_seconds - 40.0) < 0.01
    decoded = _decode(result.output_path, 2)
    assert abs(decoded.shape[1] - round(40.0 * RATE)) <= 1


@pytest.mark.parametrize("encoder", sorted(ENCODERS))
@pytest.mark.parametrize("samples", [1, 500, FRAME, 3 * FRAME + 7])
def test_tiny_streams_keep_their_length(tmp_path: Path, samples: int, encoder: str) -> None:
    audio = speechlike(1.0, seed=2)[:, :samples] * 3
    out = tmp_path / "tiny.mp3"
    assert ENCODERS[encoder](iter([audio]), out, rate=RATE, channels=1) == samples
    assert _decode(out, 1).shape[1] == samples
