"""Edit markers and bleeps in the episode pipeline: marker cuts in the edit list (kind,
reason, the words they remove), bleeps in a single-track render, and a marker phrase
said over another track muted on its own track instead of cut."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tapeworks.errors import ValidationFailed
from tapeworks.production.bleep import BLEEP_TEXT
from tapeworks.production.cleaning import build_edit_list, plan_cuts
from tapeworks.production.multitrack import (
    TrackEdits,
    TrackSpec,
    merge_track_transcripts,
    mixdown_blocks,
    place_tracks,
)
from tapeworks.production.pipeline import (
    CleaningSettings,
    LoudnessSettings,
    RenderSettings,
    produce,
)
from tapeworks.production.studio import produce_multitrack
from tapeworks.transcripts.model import Segment, Transcript, Word
from tests.helpers.audio import RATE, decode_all, speechlike, write_wav


def _words(spec: str, start: float = 0.2, length: float = 0.3, gap: float = 0.1,
           speaker: str = "S1") -> list[Word]:
    """Words from text; '|' adds a 0.8 s pause before the next word."""
    out: list[Word] = []
    t = start
    for token in spec.split():
        if token == "|":
            t += 0.8
            continue
        out.append(Word(text=token, start=round(t, 3), end=round(t + length, 3), speaker=speaker))
        t += length + gap
    return out


def _transcript(words: list[Word]) -> Transcript:
    seg = Segment(id="s1", speaker=words[0].speaker, start=words[0].start, end=words[-1].end,
                  text=" ".join(w.text for w in words), words=words)
    return Transcript(segments=[seg], duration=words[-1].end + 1.0)


def _recording(path: Path, words: list[Word], seconds: float, seed: int = 3,
               level: float = 0.6) -> Path:
    """A burst of speech-like noise where each word is timed, faint noise elsewhere."""
    rng = np.random.default_rng(seed)
    audio = (0.0003 * rng.standard_normal((1, int(seconds * RATE)))).astype(np.float32)
    for k, w in enumerate(words):
        i0, i1 = round(w.start * RATE), round(w.end * RATE)
        audio[0, i0:i1] += speechlike(w.end - w.start + 0.01, seed=seed + k)[0][: i1 - i0] * level
    return write_wav(path, audio)


SAID = "I moved in spring | I was born in nineteen ninety flubber I was born in nineteen eighty"


def test_a_spoken_marker_is_a_marker_cut_naming_the_phrase_and_its_words() -> None:
    words = _words(SAID)
    t = _transcript(words)
    edit_list = build_edit_list(t, t.duration or 0.0, settings=CleaningSettings(shorten_pauses=False))
    [cut] = edit_list.cuts
    assert cut.kind == "marker" and cut.id == "marker-4"
    assert cut.reason == 'edit marker: "I was born in nineteen ninety"'
    assert [words[i].text for i in cut.word_indices] == ["I", "was", "born", "in", "nineteen", "ninety",
                                                        "flubber"]
    assert words[3].end < cut.start <= words[4].start and words[10].end <= cut.end < words[11].start
    assert edit_list.summary()["marker"]["count"] == 1


def test_markers_off_or_another_marker() -> None:
    t = _transcript(_words(SAID))
    for marker in (None, "", "  "):
        cuts = plan_cuts(t, t.duration or 0.0, settings=CleaningSettings(shorten_pauses=False,
                                                                         edit_marker=marker))
        assert cuts == []
    t2 = _transcript(_words("I was born in nineteen ninety scratch that I was born in nineteen eighty"))
    [cut] = plan_cuts(t2, t2.duration or 0.0, settings=CleaningSettings(
        shorten_pauses=False, edit_marker="scratch that"))
    assert cut.kind == "marker" and cut.reason == 'edit marker: "I was born in nineteen ninety"'


def test_the_pause_before_a_marker_phrase_is_not_anchored_on_the_cut_words() -> None:
    # a long pause before the phrase: it is shortened up to the words that stay
    words = _words("Hello there | | | I was born in nineteen ninety flubber I was born in nineteen eighty")
    t = _transcript(words)
    cuts = build_edit_list(t, t.duration or 0.0, settings=CleaningSettings(max_pause_seconds=1.0)).cuts
    kinds = [c.kind for c in cuts]
    assert "marker" in kinds
    after = words[10]  # the "I" after the marker: kept, nothing may touch it
    for c in cuts:
        assert c.end <= after.start - 0.02 or c.start >= after.end, c


@pytest.mark.parametrize("bad", [{"edit_marker": "x" * 41}, {"edit_marker": "123"},
                                 {"edit_marker_pause_seconds": 0.0}, {"bleep_mode": "honk"},
                                 {"bleep_words": ("a" * 101,)}])
def test_settings_are_checked(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationFailed):
        CleaningSettings(**bad).validate()  # type: ignore[arg-type]


def test_a_bleep_in_a_single_track_render_is_a_tone_and_nothing_else_changes(tmp_path: Path) -> None:
    words = _words("well that is damn good news for everyone")
    source = _recording(tmp_path / "talk.wav", words, 4.5)
    t = _transcript(words)
    plain = CleaningSettings(remove_fillers=False, shorten_pauses=False, edit_marker=None)
    off = LoudnessSettings(enabled=False)
    wav = RenderSettings(format="wav", channels=1)
    result = produce(source, t, tmp_path / "bleeped.wav", cleaning=CleaningSettings(
        remove_fillers=False, shorten_pauses=False, edit_marker=None, bleep_words=("DAMN",)),
        loudness=off, render=wav)
    reference = produce(source, t, tmp_path / "plain.wav", cleaning=plain, loudness=off, render=wav)
    [span] = result.bleeps
    assert span.word_index == 3 and span.start <= words[3].start + 0.01 and span.end >= words[3].end - 0.01
    assert span.start >= words[2].end and span.end <= words[4].start  # neighbours untouched
    out, rate = decode_all(result.output_path)
    ref, _ = decode_all(reference.output_path)
    assert out.shape == ref.shape
    a, b = round(span.start * rate), round(span.end * rate)
    assert np.array_equal(out[:, :a], ref[:, :a]) and np.array_equal(out[:, b:], ref[:, b:])
    ramp = round(0.005 * rate)
    n = np.arange(a + ramp, b - ramp)
    tone = 0.1 * np.sin(2 * np.pi * 1000 * (n - a) / rate)
    assert np.max(np.abs(out[0, a + ramp : b - ramp] - tone)) < 1e-4  # 16-bit WAV rounding
    texts = [w.text for w in result.transcript.words()]
    assert texts[3] == BLEEP_TEXT and texts.count(BLEEP_TEXT) == 1
    assert "damn" not in result.transcript.text().lower()


def test_mute_mode_is_silence(tmp_path: Path) -> None:
    words = _words("well that is damn good news")
    source = _recording(tmp_path / "talk.wav", words, 3.5)
    result = produce(source, _transcript(words), tmp_path / "muted.wav", cleaning=CleaningSettings(
        remove_fillers=False, shorten_pauses=False, edit_marker=None, bleep_words=("damn",),
        bleep_mode="mute"), loudness=LoudnessSettings(enabled=False), render=RenderSettings(format="wav"))
    [span] = result.bleeps
    out, rate = decode_all(result.output_path)
    ramp = round(0.005 * rate)
    assert not out[:, round(span.start * rate) + ramp : round(span.end * rate) - ramp].any()


def test_a_marker_phrase_said_over_another_track_is_muted_on_its_own_track(tmp_path: Path) -> None:
    ann_words = _words("So. I was born in nineteen ninety flubber I was born in nineteen eighty", start=0.3)
    # Bob says "right" over Ann's phrase (crosstalk), then nothing
    bob_words = [Word(text="right", start=1.3, end=1.6, speaker="S2")]
    ann = _recording(tmp_path / "ann.wav", ann_words, 7.0, seed=3)
    bob = _recording(tmp_path / "bob.wav", bob_words, 7.0, seed=40)
    merged = merge_track_transcripts([_transcript(ann_words), _transcript(bob_words)], ["Ann", "Bob"])
    multi = produce_multitrack([TrackSpec(ann, "Ann"), TrackSpec(bob, "Bob")], merged,
                               tmp_path / "ep.wav",
                               cleaning=CleaningSettings(shorten_pauses=False, remove_fillers=False),
                               loudness=LoudnessSettings(enabled=False), render=RenderSettings(format="wav"))
    assert [c.kind for c in multi.result.edit_list.cuts] == []  # not cut: Bob would lose "right"
    [phrase] = multi.muted_markers
    words = merged.words()
    assert words[phrase[0]].text == "I" and words[phrase[-1]].text == "flubber"
    [mute] = multi.mutes[0]
    assert mute[0] <= ann_words[1].start and mute[1] >= ann_words[7].end
    out, rate = decode_all(multi.result.output_path)
    # inside the mute, away from Bob's word: silence (Ann muted, Bob silent there)
    quiet = out[:, round((ann_words[5].start) * rate) : round(ann_words[7].end * rate)]
    assert np.max(np.abs(quiet)) < 0.01
    # Bob's "right" plays untouched through Ann's muted phrase
    bob_alone = np.concatenate(list(mixdown_blocks(place_tracks([TrackSpec(bob, "Bob")], RATE), RATE, 1,
                                                   4096, [TrackEdits(gain_db=multi.track_gains_db[1])])),
                               axis=1)
    i0, i1 = round(1.3 * rate), round(1.6 * rate)
    assert np.sqrt(np.mean(bob_alone[0, i0:i1] ** 2)) > 0.01
    assert np.max(np.abs(out[0, i0:i1] - bob_alone[0, i0:i1])) < 2e-4  # 16-bit WAV rounding
    kept = [w.text for w in sorted(multi.result.transcript.words(), key=lambda w: w.start)]
    assert kept == ["So.", "right", "I", "was", "born", "in", "nineteen", "eighty"]


def test_a_marker_phrase_nobody_else_talks_over_is_cut_from_the_timeline(tmp_path: Path) -> None:
    ann_words = _words("So. I was born in nineteen ninety flubber I was born in nineteen eighty", start=0.3)
    bob_words = [Word(text="right", start=5.8, end=6.1, speaker="S2")]
    ann = _recording(tmp_path / "ann.wav", ann_words, 7.0, seed=3)
    bob = _recording(tmp_path / "bob.wav", bob_words, 7.0, seed=40)
    merged = merge_track_transcripts([_transcript(ann_words), _transcript(bob_words)], ["Ann", "Bob"])
    multi = produce_multitrack([TrackSpec(ann, "Ann"), TrackSpec(bob, "Bob")], merged,
                               tmp_path / "ep.wav",
                               cleaning=CleaningSettings(shorten_pauses=False, remove_fillers=False),
                               loudness=LoudnessSettings(enabled=False), render=RenderSettings(format="wav"))
    [cut] = multi.result.edit_list.cuts
    assert cut.kind == "marker" and multi.muted_markers == []
    assert cut.reason == 'edit marker: "I was born in nineteen ninety"'
    assert [w.text for w in sorted(multi.result.transcript.words(), key=lambda w: w.start)] == [
        "So.", "I", "was", "born", "in", "nineteen", "eighty", "right"]


def test_bleeps_in_a_multitrack_render_sit_on_the_speakers_track(tmp_path: Path) -> None:
    ann_words = _words("well that is damn good", start=0.3)
    bob_words = [Word(text="yes", start=3.0, end=3.4, speaker="S2")]
    ann = _recording(tmp_path / "ann.wav", ann_words, 4.0, seed=3)
    bob = _recording(tmp_path / "bob.wav", bob_words, 4.0, seed=40)
    merged = merge_track_transcripts([_transcript(ann_words), _transcript(bob_words)], ["Ann", "Bob"])
    multi = produce_multitrack([TrackSpec(ann, "Ann"), TrackSpec(bob, "Bob")], merged,
                               tmp_path / "ep.wav",
                               cleaning=CleaningSettings(shorten_pauses=False, remove_fillers=False,
                                                         bleep_words=("damn",)),
                               loudness=LoudnessSettings(enabled=False), render=RenderSettings(format="wav"))
    [span] = multi.result.bleeps
    assert span.start <= ann_words[3].start + 0.01 and span.end >= ann_words[3].end - 0.01
    assert [w.text for w in multi.result.transcript.words()].count(BLEEP_TEXT) == 1
    out, rate = decode_all(multi.result.output_path)
    ramp = round(0.005 * rate)
    seg = out[0, round(span.start * rate) + ramp : round(span.end * rate) - ramp]
    spectrum = np.abs(np.fft.rfft(seg))
    assert np.fft.rfftfreq(seg.size, 1 / rate)[spectrum.argmax()] == pytest.approx(1000, abs=5)
