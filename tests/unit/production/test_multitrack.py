"""Multitrack primitives: placing tracks, levelling, the mixdown, fillers over crosstalk,
where every track is silent, microphone bleed and the merged transcript."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tapeworks.audio.decode import decode_blocks
from tapeworks.audio.probe import read_info
from tapeworks.errors import InvalidAudio, ValidationFailed
from tapeworks.production.bleep import BleepSpan
from tapeworks.production.loudness import measure_loudness
from tapeworks.production.multitrack import (
    TrackEdits,
    TrackSpec,
    common_silence,
    dedupe_words,
    levelling_gains_db,
    merge_track_transcripts,
    mixdown_blocks,
    mute_envelope,
    place_tracks,
    split_fillers,
    timeline_samples,
    track_loudness,
    union_intervals,
    word_levels,
    write_mixdown,
)
from tapeworks.transcripts.model import Segment, Transcript, Word
from tests.helpers.audio import RATE, decode_all, speechlike, write_wav


def _track(path: Path, seconds: float, bursts: list[tuple[float, float]], level: float,
           rate: int = RATE, channels: int = 1, seed: int = 1) -> Path:
    audio = np.zeros((channels, int(seconds * rate)), np.float32)
    for k, (a, b) in enumerate(bursts):
        i0, i1 = round(a * rate), round(b * rate)
        burst = speechlike(b - a + 0.01, seed=seed + k, rate=rate)[0][: i1 - i0] * level
        audio[:, i0:i1] += burst
    return write_wav(path, audio, rate)


def test_tracks_of_different_rates_lengths_and_channels_line_up(tmp_path: Path) -> None:
    a = _track(tmp_path / "a.wav", 4.0, [(1.0, 2.0)], 1.0)
    b = _track(tmp_path / "b.wav", 6.0, [(0.5, 1.5)], 1.0, rate=48000, channels=2, seed=9)
    placed = place_tracks([TrackSpec(a, "Ann"), TrackSpec(b, "Bob", offset_seconds=1.5)], RATE)
    assert [p.start for p in placed] == [0, round(1.5 * RATE)]
    assert [p.length for p in placed] == [4 * RATE, 6 * RATE]
    assert timeline_samples(placed) == round(7.5 * RATE)
    blocks = list(mixdown_blocks(placed, RATE, 2, 8192))
    assert all(bl.shape[1] <= 8192 for bl in blocks)
    mix = np.concatenate(blocks, axis=1)
    assert mix.shape == (2, round(7.5 * RATE))
    energy = np.sqrt(np.mean(mix.reshape(2, -1, RATE // 10) ** 2, axis=(0, 2)))  # per 100 ms
    loud = np.nonzero(energy > 0.01)[0] / 10
    # Ann 1.0-2.0, Bob (offset 1.5) 2.0-3.0: one stretch of speech 1.0-3.0 on the timeline
    assert loud.min() == pytest.approx(1.0, abs=0.1) and loud.max() == pytest.approx(2.9, abs=0.1)


def test_a_track_that_is_not_audio_refuses_the_set_and_names_it(tmp_path: Path) -> None:
    a = _track(tmp_path / "a.wav", 2.0, [(0.5, 1.0)], 1.0)
    notes = tmp_path / "notes.mp3"
    notes.write_text("not audio at all\n" * 100)
    with pytest.raises(InvalidAudio, match=r"track 2 \(Bob\) is not audio"):
        place_tracks([TrackSpec(a, "Ann"), TrackSpec(notes, "Bob")], RATE)
    with pytest.raises(ValidationFailed, match="offset"):
        place_tracks([TrackSpec(a, "Ann", offset_seconds=-1.0)], RATE)


def test_each_track_is_levelled_to_a_common_speech_loudness(tmp_path: Path) -> None:
    # Ann speaks quietly and often, Bob loudly and rarely: gated loudness ignores silence
    quiet = _track(tmp_path / "q.wav", 10.0, [(0.5, 4.5), (5.0, 9.5)], 0.1)
    loud = _track(tmp_path / "l.wav", 10.0, [(4.6, 5.0)], 1.0, seed=7)
    placed = place_tracks([TrackSpec(quiet, "Ann"), TrackSpec(loud, "Bob")], RATE)
    lufs = track_loudness(placed, RATE, 8192)
    gains = levelling_gains_db(lufs)
    assert lufs[1] - lufs[0] > 15
    levelled = [lufs[k] + gains[k] for k in range(2)]
    assert levelled[0] == pytest.approx(levelled[1], abs=0.01)
    # measured again after the gain, each track alone is at the common loudness
    for k in range(len(placed)):
        edits = [TrackEdits(gain_db=gains[j]) if j == k else TrackEdits(gain_db=-200) for j in range(2)]
        mix = mixdown_blocks(placed, RATE, 1, 8192, edits)
        assert measure_loudness(mix, RATE, 1) == pytest.approx(levelled[0], abs=0.1)


def test_levelling_leaves_silent_tracks_and_caps_boosts() -> None:
    assert levelling_gains_db([-20.0, -float("inf")]) == [0.0, 0.0]
    assert levelling_gains_db([-10.0, -70.0]) == [-30.0, 20.0]
    assert levelling_gains_db([-30.0, -20.0], reference=-16.0) == [14.0, 4.0]


def test_mute_spans_silence_only_their_track(tmp_path: Path) -> None:
    a = _track(tmp_path / "a.wav", 3.0, [(0.2, 2.8)], 0.5)
    b = _track(tmp_path / "b.wav", 3.0, [(0.2, 2.8)], 0.5, seed=5)
    placed = place_tracks([TrackSpec(a, "Ann"), TrackSpec(b, "Bob")], RATE)
    alone_b = np.concatenate(list(mixdown_blocks(placed, RATE, 1, 4096,
                                                 [TrackEdits(gain_db=-300), TrackEdits()])), axis=1)
    mix = np.concatenate(list(mixdown_blocks(placed, RATE, 1, 4096,
                                             [TrackEdits(mutes=[(1.0, 1.5)]), TrackEdits()])), axis=1)
    fade = round(0.005 * RATE)
    i0, i1 = round(1.0 * RATE), round(1.5 * RATE)
    assert np.allclose(mix[:, i0 + fade : i1 - fade], alone_b[:, i0 + fade : i1 - fade], atol=1e-7)
    whole = np.concatenate(list(mixdown_blocks(placed, RATE, 1, 4096)), axis=1)
    assert np.array_equal(mix[:, :i0], whole[:, :i0]) and np.array_equal(mix[:, i1:], whole[:, i1:])


def test_mute_envelope_ramps_inside_the_span() -> None:
    env = mute_envelope([(100, 200)], fade=10)
    g = np.concatenate([env(0, 150), env(150, 100)])
    assert (g[:100] == 1).all() and (g[200:] == 1).all()
    assert (g[110:190] == 0).all() and 0 < g[105] < 1 and 0 < g[195] < 1


def test_bleeps_in_the_mixdown_sit_on_the_speakers_track_time(tmp_path: Path) -> None:
    a = _track(tmp_path / "a.wav", 3.0, [(0.5, 2.5)], 0.5)
    placed = place_tracks([TrackSpec(a, "Ann", offset_seconds=1.0)], RATE)
    span = BleepSpan(2.0, 2.4, 0, "darn")  # timeline seconds
    mix = np.concatenate(list(mixdown_blocks(placed, RATE, 1, 4096, [TrackEdits(bleeps=[span])])), axis=1)
    i0, i1 = round(2.0 * RATE), round(2.4 * RATE)
    core = mix[0, i0 + 300 : i1 - 300]
    n = np.arange(i0 + 300, i1 - 300) - i0
    assert np.allclose(core, 0.1 * np.sin(2 * np.pi * 1000 * n / RATE), atol=1e-6)


def test_write_mixdown_is_exact_and_streams(tmp_path: Path) -> None:
    a = _track(tmp_path / "a.wav", 5.0, [(0.5, 4.5)], 0.7)
    b = _track(tmp_path / "b.wav", 5.0, [(1.5, 2.5)], 0.9, rate=22050, seed=3)
    placed = place_tracks([TrackSpec(a, "Ann"), TrackSpec(b, "Bob")], RATE)
    edits = [TrackEdits(gain_db=3.0), TrackEdits(gain_db=-2.0, mutes=[(2.0, 2.2)])]
    expected = np.concatenate(list(mixdown_blocks(placed, RATE, 2, 4096, edits)), axis=1)
    out = tmp_path / "mix.wav"
    assert write_mixdown(mixdown_blocks(placed, RATE, 2, 4096, edits), out, RATE, 2) == expected.shape[1]
    got, rate = decode_all(out)
    assert rate == RATE and np.array_equal(got, expected)
    info = read_info(out)
    assert info.channels == 2 and info.duration_seconds == pytest.approx(5.0, abs=1e-3)
    assert sum(bl.shape[1] for bl in decode_blocks(out, RATE, 2, 4096)) == expected.shape[1]


def test_common_silence_is_where_no_track_speaks() -> None:
    ann = [(0.0, 2.0), (5.0, 6.0)]
    bob = [(1.5, 3.0), (7.0, 8.0)]
    assert union_intervals(ann, bob) == [(0.0, 3.0), (5.0, 6.0), (7.0, 8.0)]
    assert common_silence([ann, bob], 10.0) == [(3.0, 5.0), (6.0, 7.0), (8.0, 10.0)]
    assert common_silence([[], []], 2.0) == [(0.0, 2.0)]


def _w(text: str, a: float, b: float, speaker: str) -> Word:
    return Word(text=text, start=a, end=b, speaker=speaker)


def test_a_filler_over_another_speaker_is_muted_otherwise_cut() -> None:
    words = [_w("so", 0.0, 0.3, "S1"), _w("um", 1.0, 1.3, "S1"), _w("right", 1.1, 1.5, "S2"),
             _w("uh", 3.0, 3.2, "S2")]
    speech = [[(0.0, 0.3), (1.0, 1.3)], [(1.1, 1.5), (3.0, 3.2)]]
    cut, mutes = split_fillers(words, [1, 3], ["S1", "S2"], speech)
    assert cut == [3]
    assert mutes[0] == [(pytest.approx(0.95), pytest.approx(1.35))] and mutes[1] == []


def test_bleed_keeps_the_word_on_the_louder_track(tmp_path: Path) -> None:
    # Ann says "hello" at 1.0 s; Bob's microphone picks it up 20 dB quieter and 10 ms later
    ann_path = _track(tmp_path / "a.wav", 3.0, [(1.0, 1.5)], 0.5)
    bob_path = _track(tmp_path / "b.wav", 3.0, [(1.01, 1.51), (2.0, 2.5)], 0.05, seed=1)
    ann = [_w("Hello,", 1.0, 1.5, "S1")]
    bob = [_w("hello", 1.01, 1.51, "S2"), _w("hi", 2.0, 2.5, "S2")]
    levels = [word_levels(ann_path, ann), word_levels(bob_path, bob)]
    assert levels[0][0] - levels[1][0] == pytest.approx(20.0, abs=0.5)
    kept = dedupe_words([ann, bob], levels)
    assert [w.text for w in kept[0]] == ["Hello,"] and [w.text for w in kept[1]] == ["hi"]
    # more than 0.3 s apart: both kept (he said it too)
    late = [_w("hello", 1.4, 1.8, "S2")]
    assert dedupe_words([ann, late], [[-10.0], [-30.0]]) == [ann, late]


def test_word_levels_follow_the_track_offset(tmp_path: Path) -> None:
    path = _track(tmp_path / "a.wav", 2.0, [(0.5, 1.0)], 0.5)
    words = [_w("x", 2.5, 3.0, "S1"), _w("y", 3.2, 3.4, "S1")]
    levels = word_levels(path, words, offset=2.0)
    assert levels[0] > -45 and levels[1] < -80


def test_merged_transcript_carries_each_tracks_speaker_in_time_order() -> None:
    ann = Transcript(language="en", segments=[
        Segment(id="s1", speaker="S1", start=0.0, end=1.0, text="Hello there",
                words=[_w("Hello", 0.0, 0.4, "S1"), _w("there", 0.5, 1.0, "S1")]),
        Segment(id="s2", speaker="S1", start=3.0, end=3.5, text="Yes",
                words=[_w("Yes", 3.0, 3.5, "S1")])])
    bob = Transcript(language="en", segments=[
        Segment(id="s1", speaker="S1", start=0.2, end=1.2, text="Hi hello",
                words=[_w("Hi", 0.2, 0.5, "S1"), _w("hello", 0.7, 1.2, "S1")])])
    merged = merge_track_transcripts([ann, bob], ["Ann", "Bob"], offsets=[0.0, 1.0])
    assert [(s.id, s.speaker, s.start) for s in merged.segments] == [
        ("t1-s1", "S1", 0.0), ("t2-s1", "S2", 1.2), ("t1-s2", "S1", 3.0)]
    assert [(sp.id, sp.name) for sp in merged.speakers] == [("S1", "Ann"), ("S2", "Bob")]
    assert all(w.speaker == s.speaker for s in merged.segments for w in s.words)
    assert merged.words()[2].start == pytest.approx(1.2)
    assert merged.diarization.status == "disabled" and merged.diarization.num_speakers == 2
    # crosstalk: both speakers' words stay; a deduped word goes
    words = [[w for w in ann.words()], [w.model_copy(update={"start": w.start + 1.0, "end": w.end + 1.0})
                                        for w in bob.words()][:1]]
    dropped = merge_track_transcripts([ann, bob], ["Ann", "Bob"], [0.0, 1.0], words_by_track=words)
    assert [w.text for w in dropped.words()] == ["Hello", "there", "Hi", "Yes"]
    assert dropped.segments[1].text == "Hi"


def test_produce_multitrack_mutes_a_filler_over_crosstalk_and_cuts_a_lone_one(tmp_path: Path) -> None:
    from tapeworks.production.pipeline import CleaningSettings, LoudnessSettings, RenderSettings
    from tapeworks.production.studio import produce_multitrack

    ann_bursts = [(0.2, 1.0), (2.0, 2.3), (3.5, 4.2), (5.0, 5.3), (5.8, 6.5)]
    a = _track(tmp_path / "a.wav", 7.0, ann_bursts, 0.5)
    b = _track(tmp_path / "b.wav", 7.0, [(1.5, 3.0)], 0.5, seed=11)
    texts = ["hello", "um", "there", "um", "bye"]
    ann = [_w(t, s, e, "S1") for t, (s, e) in zip(texts, ann_bursts, strict=True)]
    bob = [_w("yes", 1.5, 3.0, "S2")]
    t = merge_track_transcripts(
        [Transcript(segments=[Segment(id="a", start=0.2, end=6.5, text=" ".join(texts), words=ann)]),
         Transcript(segments=[Segment(id="b", start=1.5, end=3.0, text="yes", words=bob)])],
        ["Ann", "Bob"])
    multi = produce_multitrack([TrackSpec(a, "Ann"), TrackSpec(b, "Bob")], t, tmp_path / "ep.wav",
                               cleaning=CleaningSettings(shorten_pauses=False),
                               loudness=LoudnessSettings(enabled=False),
                               render=RenderSettings(format="wav"))
    cuts = multi.result.edit_list.cuts
    assert [c.kind for c in cuts] == ["filler"] and cuts[0].start >= 4.2 and cuts[0].end <= 5.8
    assert multi.mutes[0] == [(pytest.approx(1.95), pytest.approx(2.35))] and multi.mutes[1] == []
    # the muted "um" is gone from Ann's track; Bob's "yes" plays through it untouched
    out, _ = decode_all(multi.result.output_path)
    bob_alone = np.concatenate(list(mixdown_blocks(place_tracks([TrackSpec(b, "Bob")], RATE), RATE, 1, 4096,
                                                   [TrackEdits(gain_db=multi.track_gains_db[1])])), axis=1)
    i0, i1 = round(2.0 * RATE), round(2.3 * RATE)
    assert np.max(np.abs(out[0, i0:i1] - bob_alone[0, i0:i1])) < 2e-4  # 16-bit WAV rounding
    assert [w.text for w in multi.result.transcript.words()].count("um") == 0  # muted: not in the episode
