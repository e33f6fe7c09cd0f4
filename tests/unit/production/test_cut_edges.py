"""Cuts that touch, overlap or reach the end of the recording never fail a render (issue 11).

The reported failure: a 58 s recording with a pause near the end failed the whole episode
with "cut 55.32..57.97 overlaps another cut or leaves the source". The recording's length
is not a whole number of samples at the render rate (48 kHz source, 44.1 kHz render), the
trailing cut reaches the end, and rounding its end to a sample put it half a sample past it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tapeworks.audio.decode import rechunk
from tapeworks.production.editlist import Cut, EditList
from tapeworks.production.pipeline import LoudnessSettings, RenderSettings, produce
from tapeworks.production.render import EditRenderer
from tapeworks.transcripts.model import Segment, Transcript, Word
from tests.helpers.audio import RATE, decode_all, speechlike, write_wav

SOURCE_RATE = 48000
SOURCE_SAMPLES = 2_782_757  # 57.9741 s: N * 44100 / 48000 rounds up


def _recording_with_a_pause_near_the_end(tmp_path: Path) -> tuple[Path, Transcript]:
    """About 58 s: five thinking pauses of 2 to 4 s, the last one near the end, then a
    trailing silence of 2.6 s."""
    x = np.zeros((1, SOURCE_SAMPLES), np.float32)
    talk = [(0.5, 9.0), (11.5, 20.0), (23.0, 31.0), (34.5, 42.0), (44.0, 52.0), (55.0, 55.3)]
    words: list[Word] = []
    for k, (a, b) in enumerate(talk):
        audio = speechlike(b - a, seed=k, rate=SOURCE_RATE)
        i = round(a * SOURCE_RATE)
        x[:, i : i + audio.shape[1]] = audio
        t = a
        while t < b - 0.05:
            words.append(Word(text=f"w{len(words)}", start=round(t, 3), end=round(min(t + 0.3, b), 3)))
            t += 0.35
    path = write_wav(tmp_path / "thinking.wav", x, SOURCE_RATE)
    seg = Segment(id="s", start=words[0].start, end=words[-1].end, text=" ".join(w.text for w in words),
                  words=words)
    return path, Transcript(segments=[seg], duration=SOURCE_SAMPLES / SOURCE_RATE)


def test_pause_near_the_end_of_an_off_grid_recording_renders(tmp_path: Path) -> None:
    source, transcript = _recording_with_a_pause_near_the_end(tmp_path)
    for loud in (True, False):
        out = tmp_path / f"episode-{loud}.wav"
        result = produce(source, transcript, out, loudness=LoudnessSettings(enabled=loud),
                         render=RenderSettings(format="wav"))
        final = result.edit_list
        assert final.cuts[-1].end <= final.source_duration
        assert any(c.kind == "pause" and c.end == final.source_duration for c in final.cuts)
        assert sum(c.kind == "pause" for c in final.cuts) >= 5
        audio, rate = decode_all(out)
        assert rate == RATE
        assert abs(audio.shape[1] / RATE - final.episode_duration) < 2 / RATE
        assert [w.text for w in result.transcript.words()] == [w.text for w in transcript.words()]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.floats(0.0, 1.0), st.floats(0.0, 0.3)), max_size=10),
    st.integers(40_000, 48_000),
    st.integers(300, 5000),
    st.booleans(),
)
def test_touching_overlapping_and_trailing_cuts_always_render(
    raw: list[tuple[float, float]], samples: int, block: int, to_end: bool
) -> None:
    duration = samples / RATE + 0.37 / RATE  # off the sample grid
    cuts = [Cut(a * duration, a * duration + d, "pause") for a, d in raw]
    if to_end:
        cuts.append(Cut(duration * 0.9, duration, "pause"))
    edits = EditList.build(duration, cuts)
    src = np.random.default_rng(samples).standard_normal((1, samples)).astype(np.float32)
    renderer = EditRenderer(edits, RATE, 1, block_samples=block, snap_seconds=0.002)
    out = sum(b.shape[1] for b in renderer.render(rechunk([src], block)))
    final = renderer.snapped_edit_list()
    assert all(c.end <= final.source_duration for c in final.cuts)
    assert all(a.end < b.start for a, b in zip(final.cuts, final.cuts[1:], strict=False))
    assert abs(out - final.episode_duration * RATE) <= 1.0
