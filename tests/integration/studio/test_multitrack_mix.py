"""Two tracks of different real voices with known overlaps and pauses, mixed and produced.

Ann is piper's Joe at 22.05 kHz mono; Bob is espeak-ng at 48 kHz stereo, 6 dB quieter,
starting 0.5 s late (offset) and longer. Known layout (timeline seconds):
- Bob answers while Ann's first phrase ends (crosstalk),
- a 2 s stretch where only Ann is silent (Bob talks): no cut may fall there,
- a 3 s stretch where both are silent: shortened.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyloudnorm
import pytest

from tapeworks.production.multitrack import TrackSpec, common_silence, merge_track_transcripts
from tapeworks.production.pipeline import CleaningSettings, RenderSettings
from tapeworks.production.studio import produce_multitrack
from tests.helpers.audio import decode_all, true_peak_dbtp
from tests.helpers.voices import phrase_transcript, write_track

RATE = 44100
CLIP_CHECK = 0.02


@pytest.fixture(scope="module")
def tracks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    d = tmp_path_factory.mktemp("tracks")
    ann = write_track(d / "ann.wav", d, "piper-joe", [
        (0.3, "Welcome back to the show, everybody."),
        (5.5, "And that is the whole story."),
        (13.0, "Thanks for listening."),
    ], seconds=15.0, rate=22050, channels=1)
    # Bob's file starts 0.5 s after Ann's: his times below are his own file's
    bob = write_track(d / "bob.wav", d, "espeak-en-us", [
        (1.4, "Thank you, glad to be here."),
        (7.3, "Wow, I did not know that."),
    ], seconds=16.0, rate=48000, channels=2, level=0.5)
    return {"dir": d, "ann": ann, "bob": bob}


def test_two_tracks_mix_levelled_and_cut_only_where_both_are_silent(
    tracks: dict[str, object], tmp_path: Path
) -> None:
    d = tracks["dir"]
    assert isinstance(d, Path)
    ann, bob = tracks["ann"], tracks["bob"]
    assert isinstance(ann, list) and isinstance(bob, list)
    offset = 0.5
    ann_speech = [p.audible for p in ann]
    bob_speech = [(a + offset, b + offset) for a, b in (p.audible for p in bob)]
    # the layout is what the docstring says. Piper samples its durations (a phrase's length
    # varies by about 0.2 s from run to run), so the layout keeps half a second to spare:
    # Ann's last phrase used to start 2.90 s after Bob's, and some runs had no 2.9 s gap.
    assert ann_speech[0][1] > bob_speech[0][0], (ann_speech, bob_speech)  # crosstalk
    gaps = common_silence([ann_speech, bob_speech], 15.0)
    assert any(b - a > 2.9 for a, b in gaps), gaps

    specs = [TrackSpec(d / "ann.wav", "Ann"), TrackSpec(d / "bob.wav", "Bob", offset_seconds=offset)]
    transcript = merge_track_transcripts(
        [phrase_transcript(ann), phrase_transcript(bob)], ["Ann", "Bob"], offsets=[0.0, offset])
    assert {w.speaker for w in transcript.words() if w.text == "Wow,"} == {"S2"}
    assert {w.speaker for w in transcript.words() if w.text == "Welcome"} == {"S1"}
    stages: list[tuple[str, float]] = []
    multi = produce_multitrack(specs, transcript, tmp_path / "episode.wav",
                               cleaning=CleaningSettings(max_pause_seconds=1.5, target_pause_seconds=0.5),
                               render=RenderSettings(format="wav", channels=2),
                               speech_by_track=[ann_speech, bob_speech],
                               progress=lambda s, f: stages.append((s, f)))
    result = multi.result
    assert multi.track_gains_db[1] - multi.track_gains_db[0] > 3  # Bob is quieter: more gain
    assert [f for _, f in stages] == sorted(f for _, f in stages) and stages[-1][1] == 1.0
    assert result.duration_seconds < 16.0

    pauses = [c for c in result.edit_list.cuts if c.kind == "pause"]
    assert pauses, "the 3 s common silence is shortened"
    for cut in result.edit_list.cuts:
        for a, b in ann_speech + bob_speech:  # no word clipped on either track (at 20 ms)
            assert cut.end <= a + CLIP_CHECK or cut.start >= b - CLIP_CHECK, (cut, (a, b))
    # Ann's silence while Bob talks (about 7.3-9.6 s) is not cut
    bob_talks = bob_speech[1]
    assert not any(c.start < bob_talks[1] and c.end > bob_talks[0] for c in result.edit_list.cuts)

    audio, rate = decode_all(result.output_path)
    meter = pyloudnorm.Meter(rate)
    assert meter.integrated_loudness(audio.T.astype(np.float64)) == pytest.approx(-16.0, abs=0.5)
    assert true_peak_dbtp(audio) <= -1.0 + 0.05
    assert result.transcript.speakers[1].name == "Bob"
