"""Bleeps: matching, spans widened to the word's energy, the tone stage, the transcript."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tapeworks.audio.decode import rechunk
from tapeworks.errors import ValidationFailed
from tapeworks.production.bleep import (
    BLEEP_TEXT,
    BleepSpan,
    bleep_blocks,
    bleep_list,
    bleep_spans,
    bleep_transcript,
    match_bleeps,
)
from tapeworks.transcripts.model import Segment, Transcript, Word
from tests.helpers.audio import RATE, speechlike, write_wav


def _words(*items: tuple[str, float, float], speaker: str = "S1") -> list[Word]:
    return [Word(text=t, start=a, end=b, speaker=speaker) for t, a, b in items]


def test_matching_ignores_case_and_punctuation() -> None:
    ws = _words(("Well,", 0, 1), ("DAMN!", 1, 2), ("that's", 2, 3), ("heck-", 3, 4), ("damned", 4, 5))
    assert match_bleeps(ws, bleep_list(["damn", "Heck"])) == [1, 3]


def test_entries_of_several_words_and_the_default_list() -> None:
    ws = _words(("oh", 0, 1), ("holy", 1, 2), ("cow", 2, 3), ("you", 3, 4), ("bastard", 4, 5))
    assert match_bleeps(ws, bleep_list(["holy cow"])) == [1, 2]
    assert match_bleeps(ws, bleep_list([])) == []
    assert match_bleeps(ws, bleep_list([], default_list=True)) == [4]
    assert match_bleeps(ws, bleep_list(["holy cow"], default_list=True)) == [1, 2, 4]


def _scene(tmp_path: Path) -> tuple[Path, np.ndarray, list[tuple[float, float]]]:
    """Three 'words' of speech-like noise with 150 ms gaps, over faint room tone."""
    seconds = 3.0
    rng = np.random.default_rng(5)
    audio = (0.0005 * rng.standard_normal((1, int(seconds * RATE)))).astype(np.float32)
    truth = [(0.50, 0.90), (1.05, 1.45), (1.60, 2.00)]
    for k, (a, b) in enumerate(truth):
        i0, i1 = round(a * RATE), round(b * RATE)
        burst = speechlike(b - a + 0.01, seed=10 + k)[0] * 3
        ramp = np.minimum(1.0, np.minimum(np.arange(i1 - i0), np.arange(i1 - i0)[::-1]) / 100)
        audio[0, i0:i1] += burst[: i1 - i0] * ramp
    return write_wav(tmp_path / "words.wav", audio), audio, truth


def test_spans_follow_the_speech_energy_not_the_loose_timing(tmp_path: Path) -> None:
    path, _, truth = _scene(tmp_path)
    (a0, b0), (a1, b1), (a2, b2) = truth
    # the engine placed the middle word 80 ms late and too short
    ws = _words(("one", a0, b0), ("darn", a1 + 0.08, b1 - 0.05), ("three", a2, b2))
    [span] = bleep_spans(path, ws, [1])
    assert span.start <= a1 and span.end >= b1  # the whole word's sound
    assert span.start >= b0 and span.end <= a2  # none of its neighbours
    assert span.start >= a1 - 0.03 and span.end <= b1 + 0.03


def test_a_word_timed_over_silence_finds_its_sound(tmp_path: Path) -> None:
    path, _, truth = _scene(tmp_path)
    (a2, b2) = truth[2]
    ws = _words(("one", 0.5, 0.9), ("two", 1.05, 1.45), ("darn", b2 + 0.05, b2 + 0.35))
    [span] = bleep_spans(path, ws, [2])
    assert span.start <= a2 + 0.01 and span.end >= b2


def test_tone_replaces_the_span_and_nothing_else(tmp_path: Path) -> None:
    _, audio, _ = _scene(tmp_path)
    stereo = np.vstack([audio, audio * 0.5])
    span = BleepSpan(1.0, 1.5, 1, "darn")
    blocks = list(rechunk([stereo], 4096))
    out = np.concatenate(list(bleep_blocks(iter(blocks), [span], RATE, "beep")), axis=1)
    a, b = round(1.0 * RATE), round(1.5 * RATE)
    assert np.array_equal(out[:, :a], stereo[:, :a]) and np.array_equal(out[:, b:], stereo[:, b:])
    ramp = round(0.005 * RATE)
    n = np.arange(a + ramp, b - ramp)
    tone = 0.1 * np.sin(2 * np.pi * 1000 * (n - a) / RATE)
    assert np.allclose(out[0, a + ramp : b - ramp], tone, atol=1e-6)
    assert np.allclose(out[1, a + ramp : b - ramp], tone, atol=1e-6)
    spectrum = np.abs(np.fft.rfft(out[0, a + ramp : b - ramp]))
    assert np.fft.rfftfreq(b - a - 2 * ramp, 1 / RATE)[spectrum.argmax()] == pytest.approx(1000, abs=3)
    assert 20 * np.log10(np.abs(out[0, a:b]).max()) == pytest.approx(-20.0, abs=0.05)


def test_mute_is_silence_and_blocks_are_not_modified_in_place(tmp_path: Path) -> None:
    _, audio, _ = _scene(tmp_path)
    before = audio.copy()
    blocks = list(rechunk([audio], 1000))
    out = np.concatenate(list(bleep_blocks(iter(blocks), [BleepSpan(0.5, 0.9, 0, "x")], RATE, "mute")), axis=1)
    a, b, ramp = round(0.5 * RATE), round(0.9 * RATE), round(0.005 * RATE)
    assert not out[:, a + ramp : b - ramp].any()
    assert np.array_equal(out[:, :a], before[:, :a]) and np.array_equal(out[:, b:], before[:, b:])
    assert np.array_equal(np.concatenate(blocks, axis=1), before)


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(ValidationFailed, match="bleep_mode"):
        list(bleep_blocks(iter([np.zeros((1, 10), np.float32)]), [BleepSpan(0, 1, 0, "x")], RATE, "honk"))  # type: ignore[arg-type]


def test_the_transcript_reads_bleep() -> None:
    ws = _words(("What", 0, 0.3), ("the", 0.3, 0.5), ("hell.", 0.5, 0.9))
    t = Transcript(segments=[Segment(id="s1", start=0, end=0.9, text="What the hell.", words=ws)])
    out = bleep_transcript(t, match_bleeps(t.words(), bleep_list(["hell"])))
    assert [w.text for w in out.words()] == ["What", "the", f"{BLEEP_TEXT}."]
    assert out.segments[0].text == "What the [bleep]."
    assert [(w.start, w.end) for w in out.words()] == [(w.start, w.end) for w in ws]
    assert t.words()[2].text == "hell."  # the source transcript is unchanged
