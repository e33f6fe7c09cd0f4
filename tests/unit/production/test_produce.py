"""End-to-end `produce`: loudness, ducking, encoding, crash safety, bounded blocks."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pyloudnorm
import pytest
import soundfile as sf
from mutagen.id3 import ID3

from tapeworks.production import pipeline
from tapeworks.production.encode import Tags, encode
from tapeworks.production.pipeline import (
    LoudnessSettings,
    RenderSettings,
    Template,
    produce,
)
from tapeworks.transcripts.model import Segment, Transcript, Word
from tests.helpers.audio import RATE, decode_all, speechlike, true_peak_dbtp, write_wav


def _talk(seconds: float = 12.0) -> Transcript:
    """A transcript with one word per 0.5 s: continuous speech, nothing to cut."""
    words = [Word(text=f"w{i}", start=i * 0.5 + 0.1, end=i * 0.5 + 0.45) for i in range(int(seconds * 2) - 1)]
    return Transcript(segments=[Segment(id="s", start=words[0].start, end=words[-1].end, text="x", words=words)])


def _source(tmp_path: Path, kind: str, channels: int = 2) -> Path:
    x = speechlike(12.0, seed=7, channels=channels).astype(np.float64)
    level = pyloudnorm.Meter(RATE).integrated_loudness(x.T)
    if kind == "quiet":
        x *= 10 ** ((-40 - level) / 20)
    elif kind == "loud":
        x *= 10 ** ((-9 - level) / 20)
    elif kind == "clipped":
        x = np.clip(x * 10 ** ((-6 - level) / 20), -1.0, 1.0)
        assert np.mean(np.abs(x) >= 1.0) > 0.001
    return write_wav(tmp_path / f"{kind}.wav", x.astype(np.float32))


@pytest.mark.parametrize(("kind", "channels"), [("quiet", 2), ("loud", 2), ("clipped", 2), ("quiet", 1)])
def test_loudness_target_and_true_peak(tmp_path: Path, kind: str, channels: int) -> None:
    src = _source(tmp_path, kind, channels)
    out = tmp_path / "out.wav"
    result = produce(src, _talk(), out, render=RenderSettings(format="wav"))
    audio, rate = decode_all(out)
    target = -16.0 if channels == 2 else -19.0
    measured = pyloudnorm.Meter(rate).integrated_loudness(audio.T.astype(np.float64))
    assert abs(measured - target) <= 0.5
    assert true_peak_dbtp(audio) <= -1.0
    assert result.loudness["target_lufs"] == target
    assert abs((result.loudness["output_lufs"] or 0) - measured) < 0.2
    assert (result.loudness["true_peak_dbtp"] or 0) <= -1.0
    assert result.loudness["input_lufs"] is not None


def test_custom_target(tmp_path: Path) -> None:
    src = _source(tmp_path, "quiet")
    out = tmp_path / "out.wav"
    produce(src, _talk(), out, loudness=LoudnessSettings(target_lufs=-23.0), render=RenderSettings(format="wav"))
    audio, rate = decode_all(out)
    assert abs(pyloudnorm.Meter(rate).integrated_loudness(audio.T.astype(np.float64)) + 23.0) <= 0.5


def _tone(freq: float, seconds: float, amp: float) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)[None, :]


def _level_db(x: np.ndarray, freq: float) -> float:
    t = np.arange(x.size) / RATE
    amp = 2 * np.abs(np.dot(x, np.exp(-2j * np.pi * freq * t))) / x.size
    return 20 * np.log10(amp)


def test_music_bed_is_ducked_by_the_configured_depth(tmp_path: Path) -> None:
    # speech: 1 kHz bursts 2 s on, 3 s off; music: 200 Hz tone (orthogonal over whole cycles)
    speech = np.zeros((1, RATE * 30), np.float32)
    words = []
    for k in range(6):
        a = round((1.0 + 5 * k) * RATE)
        speech[:, a : a + 2 * RATE] = _tone(1000, 2.0, 0.3)
        words.append(Word(text=f"w{k}", start=a / RATE, end=a / RATE + 2.0))
    src = write_wav(tmp_path / "speech.wav", speech)
    music = write_wav(tmp_path / "music.wav", _tone(200, 7.0, 0.5))  # shorter: must loop
    transcript = Transcript(segments=[Segment(id="s", start=1.0, end=28.0, text="x", words=words)])
    depth = 12.0
    out = tmp_path / "out.wav"
    from tapeworks.production.settings import CleaningSettings

    produce(
        src, transcript, out,
        cleaning=CleaningSettings(shorten_pauses=False),
        template=Template(music=music, duck_depth_db=depth, music_fade_in_seconds=0.5, music_fade_out_seconds=0.5),
        render=RenderSettings(format="wav", channels=1),
    )
    audio, _ = decode_all(out)
    under, between = [], []
    for k in range(1, 5):
        s = round((1.5 + 5 * k) * RATE)  # middle of a burst, 0.5 s in
        under.append(_level_db(audio[0, s : s + RATE], 200))
        g = round((3.75 + 5 * k) * RATE)  # middle of a gap, away from attack and release
        between.append(_level_db(audio[0, g : g + RATE // 2], 200))
    assert abs(np.mean(between) - np.mean(under) - depth) <= 1.0
    assert max(under) - min(under) < 0.5


def test_intro_outro_overlap_and_offset(tmp_path: Path) -> None:
    src = _source(tmp_path, "loud")
    intro = write_wav(tmp_path / "intro.wav", _tone(300, 3.0, 0.3))
    outro = write_wav(tmp_path / "outro.wav", _tone(500, 2.0, 0.3))
    out = tmp_path / "out.wav"
    result = produce(
        src, _talk(), out,
        template=Template(intro=intro, outro=outro, overlap_seconds=1.0),
        render=RenderSettings(format="wav"),
    )
    assert result.programme_offset_seconds == pytest.approx(2.0, abs=1e-3)
    main = result.edit_list.episode_duration
    assert result.duration_seconds == pytest.approx(2.0 + main - 1.0 + 2.0, abs=0.01)
    first = result.transcript.words()[0]
    assert first.start == pytest.approx(2.0 + 0.1, abs=0.02)
    audio, _ = decode_all(out)
    assert audio.shape[1] / RATE == pytest.approx(result.duration_seconds, abs=0.01)
    # intro alone during its first two seconds
    assert _level_db(audio[0, RATE // 2 : RATE], 300) > -30


@pytest.mark.parametrize("fmt", ["mp3", "m4a", "wav"])
def test_encode_formats_decode_back_with_tags(tmp_path: Path, fmt: str, jfk: Path) -> None:
    out = tmp_path / f"ep.{fmt}"
    chapters = [(0.0, "Opening"), (4.0, "Question")]
    words = [Word(text="and", start=0.3, end=0.6), Word(text="ask", start=3.0, end=3.4)]
    transcript = Transcript(segments=[Segment(id="a", start=0.3, end=3.4, text="and ask", words=words)])
    result = produce(jfk, transcript, out, render=RenderSettings(format=fmt, title="Episode 1", show="Tape", chapters=chapters))
    with av.open(str(out)) as c:
        stream = c.streams.audio[0]
        n = sum(f.samples for f in c.decode(stream))
        assert abs(n / stream.rate - result.duration_seconds) <= 0.050
        if fmt == "m4a":
            assert [ch["metadata"].get("title") for ch in c.chapters()] == ["Opening", "Question"]
        if fmt in ("m4a", "wav"):
            assert c.metadata.get("title") == "Episode 1"
    if fmt == "mp3":
        tags = ID3(str(out))
        assert str(tags["TIT2"]) == "Episode 1" and str(tags["TALB"]) == "Tape"
        chaps = sorted(tags.getall("CHAP"), key=lambda f: f.start_time)
        assert [(c.start_time, str(c.sub_frames["TIT2"])) for c in chaps] == [(0, "Opening"), (4000, "Question")]
        assert tags.getall("CTOC")[0].child_element_ids == [c.element_id for c in chaps]
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]


def test_interrupted_render_leaves_no_file(tmp_path: Path, jfk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_mix = pipeline.mix_tracks

    def exploding_mix(*args, **kwargs):
        for i, block in enumerate(real_mix(*args, **kwargs)):
            if i == 2:
                raise RuntimeError("worker killed")
            yield block

    monkeypatch.setattr(pipeline, "mix_tracks", exploding_mix)
    out = tmp_path / "ep.mp3"
    with pytest.raises(RuntimeError, match="worker killed"):
        produce(jfk, _talk(8), out, render=RenderSettings(block_seconds=0.5))
    assert list(tmp_path.iterdir()) == []


def test_existing_episode_survives_a_failed_rerender(tmp_path: Path) -> None:
    out = tmp_path / "ep.wav"
    encode(iter([np.zeros((1, 1000), np.float32)]), out, fmt="wav", rate=RATE, channels=1)
    before = out.read_bytes()

    def failing():
        yield np.zeros((1, 5000), np.float32)
        raise OSError("disk vanished")

    with pytest.raises(OSError):
        encode(failing(), out, fmt="wav", rate=RATE, channels=1, tags=Tags(title="x"))
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["ep.wav"]


def test_blocks_stay_bounded_and_progress_is_monotonic(
    tmp_path: Path, jfk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sizes: list[int] = []
    real_decode, real_encode = pipeline.decode_blocks, pipeline.encode

    def probed_decode(path, rate, channels, block_samples):
        for b in real_decode(path, rate, channels, block_samples):
            sizes.append(b.shape[1])
            yield b

    def probed_encode(blocks, *args, **kwargs):
        def tap():
            for b in blocks:
                sizes.append(b.shape[1])
                yield b

        return real_encode(tap(), *args, **kwargs)

    monkeypatch.setattr(pipeline, "decode_blocks", probed_decode)
    monkeypatch.setattr(pipeline, "encode", probed_encode)
    seen: list[tuple[str, float]] = []
    music = write_wav(tmp_path / "m.wav", _tone(200, 3.0, 0.2))
    produce(jfk, _talk(8), tmp_path / "ep.mp3", template=Template(music=music),
            render=RenderSettings(block_seconds=0.25), progress=lambda s, f: seen.append((s, f)))
    limit = round(0.25 * RATE)
    assert sizes and max(sizes) <= limit
    fractions = [f for _, f in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    stages = list(dict.fromkeys(s for s, _ in seen))
    assert stages == ["analysing", "measuring", "rendering", "encoding"]


def test_a_wav_render_is_the_rounded_samples_and_loudness_off_measures_nothing(
    tmp_path: Path,
) -> None:
    """WAV out with loudness off and no cut: every sample is the source's, rounded to 16
    bits and clipped (libsndfile writes what we rounded); nothing is measured."""
    x = speechlike(3.0, seed=11, channels=2) * np.float32(5.0)
    x[0, 1000:1100], x[1, 2000:2100] = 1.5, -1.5  # past full scale both ways: clipped
    src = tmp_path / "s.wav"
    sf.write(str(src), np.ascontiguousarray(x.T), RATE, subtype="FLOAT")
    words = [Word(text="a", start=0.2, end=2.8)]
    transcript = Transcript(segments=[Segment(id="a", start=0.2, end=2.8, text="a", words=words)])
    out = tmp_path / "o.wav"
    result = produce(src, transcript, out, loudness=LoudnessSettings(enabled=False),
                     render=RenderSettings(format="wav"))
    assert result.edit_list.cuts == ()
    got, rate = decode_all(out)
    want = np.clip(np.rint(x * 32768.0), -32768, 32767) / 32768.0
    assert rate == RATE and got.shape == x.shape
    assert np.array_equal(got, want.astype(np.float32))
    assert (np.abs(x) > 1).any()
    assert result.loudness["output_lufs"] is None and result.loudness["true_peak_dbtp"] is None
