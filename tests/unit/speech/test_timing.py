"""Word-timing repair at transcription time (speech/timing.py, issue 11)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tapeworks.audio.decode import SPEECH_RATE as SAMPLE_RATE
from tapeworks.audio.energy import EnvelopeBuilder, speech_threshold
from tapeworks.audio.vad import EnergyVad
from tapeworks.speech import pipeline
from tapeworks.speech.engines.base import EngineResult, EngineSegment, EngineWord
from tapeworks.speech.pipeline import TranscribeOptions, transcribe_file
from tapeworks.speech.timing import (
    SpeechMask,
    is_suspect,
    mark_engine_times,
    min_word_seconds,
    repair_word_timings,
)
from tapeworks.transcripts.model import SCHEMA_VERSION, Transcript
from tests.helpers.audio import tone_bursts, write_bursts


def _envelope(bursts: list[tuple[float, float]], total: float):
    b = EnvelopeBuilder()
    samples = tone_bursts(bursts, total)
    for i in range(0, len(samples), 7777):  # odd block sizes: frames straddle blocks
        b.add(samples[i : i + 7777])
    return b.envelope(), EnergyVad().detect(samples)


def _w(text: str, start: float, end: float, es: float | None = None, ee: float | None = None) -> EngineWord:
    return EngineWord(text, start, end, 0.9, engine_start=start if es is None else es,
                      engine_end=end if ee is None else ee)


# The jfk case in miniature: "Americans" ends at 2.1, silence, "ask" spoken at 6.3-6.66,
# a short gap, "not what" at 7.0-7.4, silence, "your" from 9.9 on.
BURSTS = [(0.3, 2.1), (6.3, 6.66), (7.0, 7.4), (9.9, 11.0)]


def test_zero_length_word_moves_to_the_speech_between_its_neighbours() -> None:
    env, regions = _envelope(BURSTS, 12.0)
    words = [_w("Americans,", 1.6, 2.1), _w("ask", 7.01, 7.01), _w("not", 7.01, 7.2),
             _w("what", 7.2, 7.4), _w("your", 9.9, 10.2)]
    fixed = repair_word_timings(words, regions, env)
    ask = fixed[1]
    assert 6.25 <= ask.start <= 6.35 and 6.6 <= ask.end <= 6.7, ask
    assert (ask.engine_start, ask.engine_end) == (7.01, 7.01)
    assert fixed[0] == words[0] and fixed[2:] == words[2:]


def test_word_stretched_over_a_pause_returns_to_where_it_started() -> None:
    env, regions = _envelope(BURSTS, 12.0)
    # engine: "what" 7.2-9.95 (stretched over the pause); alignment clipped it to the far side
    words = [_w("not", 7.0, 7.2), _w("what", 9.9, 9.95, 7.2, 9.95), _w("your", 9.95, 10.3)]
    fixed = repair_word_timings(words, regions, env)
    assert 7.2 <= fixed[1].start < fixed[1].end <= 7.45, fixed[1]
    assert fixed[2] == words[2]


def test_word_over_silence_with_speech_nearby_is_re_anchored() -> None:
    env, _regions = _envelope(BURSTS, 12.0)
    words = [_w("Americans,", 1.6, 2.1), _w("ask", 4.0, 4.4), _w("not", 7.0, 7.2)]
    fixed = repair_word_timings(words, [], env)  # energy alone
    assert fixed[1].start >= 6.25 and fixed[1].end <= 6.7


def test_no_speech_between_neighbours_leaves_the_word_where_it_is() -> None:
    env, regions = _envelope([(0.5, 2.0), (2.0, 3.0)], 4.0)
    words = [_w("one", 0.5, 2.0), _w("two", 2.0, 2.0), _w("three", 2.0, 3.0)]
    assert repair_word_timings(words, regions, env) == words


def test_a_correct_short_word_stays_in_its_own_speech() -> None:
    env, regions = _envelope([(0.5, 1.55), (3.0, 3.2)], 4.0)  # a breath at 3.0 s
    words = [_w("so", 0.5, 1.5), _w("I", 1.5, 1.55), _w("think", 3.5, 3.9)]
    fixed = repair_word_timings(words, regions, env)
    assert fixed[1].start >= 1.45 and fixed[1].end <= 1.6


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(0.2, 1.5), st.floats(0.05, 1.5)), min_size=1, max_size=8))
def test_well_placed_words_are_never_moved(layout: list[tuple[float, float]]) -> None:
    bursts, t = [], 0.3
    for length, gap in layout:
        bursts.append((t, t + length))
        t += length + gap
    env, regions = _envelope(bursts, t + 0.5)
    words = [_w("hello", round(a, 3), round(b, 3)) for a, b in bursts]
    assert repair_word_timings(words, regions, env) == words


def test_short_and_misplaced_words_are_suspect() -> None:
    env, regions = _envelope(BURSTS, 12.0)
    speech = SpeechMask.build(env, regions)
    assert is_suspect(_w("ask", 6.3, 6.3), speech)
    assert is_suspect(_w("ask", 4.0, 4.3), speech)  # over silence
    assert is_suspect(_w("what", 9.9, 10.0, 7.2, 9.95), speech)  # moved off a voiced start
    assert not is_suspect(_w("ask", 6.3, 6.66), speech)
    assert min_word_seconds("a") == pytest.approx(0.06) and min_word_seconds("Americans,") == pytest.approx(0.225)


def test_envelope_builder_matches_one_shot_frames() -> None:
    samples = tone_bursts(BURSTS, 12.0)
    b = EnvelopeBuilder()
    for i in range(0, len(samples), 1234):
        b.add(samples[i : i + 1234])
    env = b.envelope()
    frame = SAMPLE_RATE // 100
    direct = np.sqrt((samples[: len(samples) // frame * frame].reshape(-1, frame) ** 2).mean(axis=1))
    assert np.allclose(env.rms[: len(direct)], direct, atol=1e-6)
    assert speech_threshold(env.rms) >= 10 ** (-50 / 20)


def test_mark_engine_times_keeps_the_first_record() -> None:
    (w,) = mark_engine_times([EngineWord("a", 1.0, 1.2)])
    assert (w.engine_start, w.engine_end) == (1.0, 1.2)
    (again,) = mark_engine_times([EngineWord("a", 2.0, 2.2, engine_start=1.0, engine_end=1.2)])
    assert (again.engine_start, again.engine_end) == (1.0, 1.2)


class _ZeroLengthEngine:
    """Words over the voiced regions, but the second one zero-length at the wrong place."""

    from tapeworks.transcripts.model import ModelInfo

    info = ModelInfo(engine="fake", name="zero", source="test")

    def transcribe_window(self, samples, *, language, prompt) -> EngineResult:
        regions = EnergyVad().detect(samples)
        words = [EngineWord(f"w{i}", r.start, r.end, 0.9) for i, r in enumerate(regions)]
        if len(words) >= 3:
            words[1].start = words[1].end = words[2].start  # zero length, at the next word
        return EngineResult([EngineSegment(w.text, w.start, w.end, [w]) for w in words], "en")


def test_the_pipeline_stores_repaired_and_engine_times(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_bursts(tmp_path / "b.wav", [(0.5, 1.0), (2.0, 2.4), (3.5, 4.0)], 5.0)
    monkeypatch.setattr(pipeline, "_window_engine", lambda options: _ZeroLengthEngine())
    t = transcribe_file(path, TranscribeOptions(engine="fake", diarize=False))
    assert t.schema_version == SCHEMA_VERSION == 3
    w0, w1, w2 = t.words()
    assert 1.95 <= w1.start < w1.end <= 2.45, w1
    assert w1.engine_start is not None and w1.engine_start == w1.engine_end
    assert w0.engine_start is None and w2.engine_start is None  # not moved: nothing extra stored
    again = Transcript.model_validate_json(t.model_dump_json())
    assert again == t
    old = Transcript.model_validate({"schema_version": 1, "segments": [
        {"id": "s", "start": 0, "end": 1, "text": "a", "words": [{"text": "a", "start": 0, "end": 1}]}]})
    assert old.words()[0].engine_start is None


