"""probe_audio on real files written with PyAV, the shared speech samples, and broken files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tapeworks.audio.probe import AudioInfo, probe_audio, sniff_extension
from tapeworks.errors import InvalidAudio, UnsupportedMedia
from tests.helpers import audio
from tests.helpers.paths import SPEECH_DIR


@pytest.mark.parametrize(
    ("fmt", "sr", "channels", "codec", "ext"),
    [
        ("wav", 16000, 1, "pcm_s16le", "wav"),
        ("wav", 44100, 2, "pcm_s16le", "wav"),
        ("flac", 16000, 1, "flac", "flac"),
        ("flac", 48000, 2, "flac", "flac"),
        ("mp3", 44100, 2, "mp3", "mp3"),
        ("mp3", 16000, 1, "mp3", "mp3"),
        ("ogg", 48000, 2, "opus", "opus"),
        ("m4a", 44100, 1, "aac", "m4a"),
    ],
)
def test_generated_formats_are_accepted(
    tmp_path: Path, fmt: str, sr: int, channels: int, codec: str, ext: str
) -> None:
    path = audio.write_tone(
        tmp_path / f"tone.{fmt}", seconds=2.5, sr=sr, channels=channels, fmt=fmt
    )
    info = probe_audio(path, filename=f"tone.{fmt}")
    assert isinstance(info, AudioInfo)
    assert info.duration_seconds == pytest.approx(2.5, abs=0.06)  # aac/opus pad a frame
    assert info.channels == channels
    assert info.sample_rate == sr
    assert info.codec == codec
    assert info.has_video is False
    assert info.bit_rate is None or info.bit_rate > 0
    assert sniff_extension(info) == ext


def test_speechlike_fixture_is_audio(tmp_path: Path) -> None:
    info = probe_audio(audio.write_speechlike(tmp_path / "s.flac", seconds=3.0, fmt="flac"))
    assert info.duration_seconds == pytest.approx(3.0, abs=0.01)


@pytest.mark.parametrize(
    ("name", "seconds", "channels", "sr", "fmt"),
    [
        # Measured on the files themselves (the data README rounds some of these).
        ("jfk.flac", 11.0, 2, 44100, "flac"),
        ("sample.wav", 30.0, 1, 16000, "wav"),
        ("stereo_diarization.wav", 5.0, 2, 16000, "wav"),
        ("hotwords.mp3", 4.0, 2, 44100, "mp3"),
    ],
)
def test_shared_speech_samples_are_accepted(
    name: str, seconds: float, channels: int, sr: int, fmt: str
) -> None:
    path = SPEECH_DIR / name
    assert path.exists(), f"shared sample {path} is missing"
    info = probe_audio(path, filename=name)
    assert info.duration_seconds == pytest.approx(seconds, abs=0.05)
    assert info.channels == channels
    assert info.sample_rate == sr
    assert info.format_name == fmt
    assert sniff_extension(info) == fmt


def _rejects(path: Path, pattern: str, filename: str | None = None) -> InvalidAudio:
    with pytest.raises(InvalidAudio) as excinfo:
        probe_audio(path, filename=filename)
    message = str(excinfo.value)
    assert re.search(pattern, message), message
    assert not re.search(r"pyav|ffmpeg|/", message, re.IGNORECASE), message  # the user's words
    assert excinfo.value.status_code == 415
    assert excinfo.value.code == "invalid_audio"
    assert isinstance(excinfo.value, UnsupportedMedia)
    return excinfo.value


def test_empty_file(tmp_path: Path) -> None:
    err = _rejects(audio.write_empty(tmp_path / "e.mp3"), r"the file is empty", "e.mp3")
    assert "'e.mp3'" in err.message


def test_text_renamed_mp3(tmp_path: Path) -> None:
    path = audio.write_text_as_mp3(tmp_path / "notes.mp3")
    _rejects(path, r"^'notes\.mp3' is not an audio file we can read", "notes.mp3")


def test_random_bytes(tmp_path: Path) -> None:
    _rejects(
        audio.write_random_bytes(tmp_path / "r.wav"), r"is not an audio file we can read"
    )


def test_video_only(tmp_path: Path) -> None:
    path = audio.write_video_only(tmp_path / "clip.mp4")
    _rejects(path, r"^'clip\.mp4' has no audio stream \(video only\?\)", "clip.mp4")


def test_truncated_mp3_cut_mid_frame(tmp_path: Path) -> None:
    # The Xing header counts 4 s of frames; half the bytes remain.
    err = _rejects(
        audio.write_truncated_mp3(tmp_path / "t.mp3", seconds=4.0),
        r"is truncated or corrupt: its header says 4\.0 s but only 2\.\d s",
    )
    assert err.details["problem"] == "truncated"


def test_mp3_header_then_garbage(tmp_path: Path) -> None:
    # Only the Info frame is real: FFmpeg either cannot open it or decodes nothing.
    _rejects(
        audio.write_header_only_mp3(tmp_path / "h.mp3"),
        r"is not an audio file we can read|is truncated or corrupt",
    )


@pytest.mark.parametrize("fmt", ["flac", "mp3", "m4a"])
def test_corrupt_middle(tmp_path: Path, fmt: str) -> None:
    _rejects(audio.write_corrupt_middle(tmp_path / f"c.{fmt}", fmt), r"is truncated or corrupt")


def test_truncated_flac(tmp_path: Path) -> None:
    path = audio.write_tone(tmp_path / "f.flac", seconds=3.0, sr=16000, fmt="flac")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2 + 3])
    _rejects(path, r"truncated or corrupt: its header says 3\.0 s")


def test_truncated_wav_is_a_shorter_wav(tmp_path: Path) -> None:
    # Documented limitation: a WAV cut anywhere is valid PCM; the decoded length is reported.
    path = audio.write_tone(tmp_path / "w.wav", seconds=2.0, sr=16000, fmt="wav")
    data = path.read_bytes()
    path.write_bytes(data[: 44 + 16000 * 2])  # header + 1 s
    assert probe_audio(path).duration_seconds == pytest.approx(1.0, abs=0.01)


def test_playlist_cannot_make_ffmpeg_open_other_files(tmp_path: Path) -> None:
    real = audio.write_tone(tmp_path / "real.wav", seconds=1.0)
    for name, text in {
        "list.mp3": f"#EXTM3U\n#EXTINF:1,\nfile://{real}\n#EXT-X-ENDLIST\n",
        "concat.mp3": f"ffconcat version 1.0\nfile '{real}'\n",
    }.items():
        path = tmp_path / name
        path.write_text(text)
        _rejects(path, r"is not an audio file we can read")


def test_extension_comes_from_container_not_name(tmp_path: Path) -> None:
    path = audio.write_tone(tmp_path / "talk.mp3", seconds=1.0, fmt="wav")  # a WAV named .mp3
    info = probe_audio(path, filename="talk.mp3")
    assert info.format_name == "wav"
    assert sniff_extension(info) == "wav"


@pytest.mark.parametrize(
    ("format_name", "codec", "has_video", "ext"),
    [
        ("mov,mp4,m4a,3gp,3g2,mj2", "aac", False, "m4a"),
        ("mov,mp4,m4a,3gp,3g2,mj2", "aac", True, "mp4"),
        ("matroska,webm", "opus", False, "webm"),
        ("matroska,webm", "aac", False, "mka"),
        ("ogg", "vorbis", False, "ogg"),
        ("asf", "wmav2", False, "wma"),
        ("aac", "aac", False, "aac"),
        ("something_new", "x", False, "bin"),
    ],
)
def test_sniff_extension(format_name: str, codec: str, has_video: bool, ext: str) -> None:
    info = AudioInfo(1.0, codec, 1, 16000, format_name, None, has_video)
    assert sniff_extension(info) == ext
    assert re.fullmatch(r"[a-z0-9]{1,5}", ext)
