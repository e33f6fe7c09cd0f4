"""Synthetic recording with known words, fillers and pauses, cut and re-timed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import signal

from tapeworks.audio.decode import decode_blocks, rechunk
from tapeworks.production.cleaning import build_edit_list, normalise_word
from tapeworks.production.editlist import Cut, EditList
from tapeworks.production.render import EditRenderer
from tapeworks.production.retime import retime_transcript
from tapeworks.production.settings import CleaningSettings, UserCut
from tapeworks.transcripts.model import Segment, Transcript, Word
from tests.helpers.audio import RATE, write_wav

# (text, duration, pause after) -- pauses cover short, long, and long-with-filler gaps
SCRIPT = [
    ("so", 0.30, 0.20), ("today", 0.45, 2.60), ("we", 0.25, 0.30), ("um", 0.35, 0.40),
    ("talk", 0.40, 0.90), ("about", 0.40, 1.20), ("uh", 0.30, 1.10), ("tape", 0.45, 4.00),
    ("Hmm,", 0.30, 0.25), ("and", 0.30, 1.40), ("loops", 0.50, 0.60),
]
FILLERS = {"um", "uh", "hmm"}


def _word_audio(i: int, n: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(n) / RATE
    freq = 220.0 * (1.25 ** i)
    tone = np.sin(2 * np.pi * freq * t) + 0.3 * rng.standard_normal(n)
    env = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.02)  # 20 ms attack and decay
    return (0.3 * tone * env).astype(np.float32)


def build_recording(tmp_path: Path, seed: int = 0) -> tuple[Path, Transcript, np.ndarray]:
    rng = np.random.default_rng(seed)
    parts: list[np.ndarray] = []
    words: list[Word] = []
    pos = round(0.6 * RATE)
    parts.append(rng.standard_normal(pos).astype(np.float32) * 1e-3)  # room tone
    for i, (text, dur, pause) in enumerate(SCRIPT):
        n, gap = round(dur * RATE), round(pause * RATE)
        words.append(Word(text=text, start=pos / RATE, end=(pos + n) / RATE))
        parts += [_word_audio(i, n, rng), rng.standard_normal(gap).astype(np.float32) * 1e-3]
        pos += n + gap
    audio = np.concatenate(parts)[None, :]
    path = write_wav(tmp_path / "rec.wav", audio)
    segments = [
        Segment(id="s0", start=words[0].start, end=words[5].end, text=" ".join(w.text for w in words[:6]), words=words[:6]),
        Segment(id="s1", start=words[6].start, end=words[-1].end, text=" ".join(w.text for w in words[6:]), words=words[6:]),
    ]
    decoded = np.concatenate(list(decode_blocks(path, RATE, 1, RATE)), axis=1)
    return path, Transcript(segments=segments, duration=audio.shape[1] / RATE), decoded


def _cut(path: Path, transcript: Transcript, settings: CleaningSettings, block: int = 7000):
    duration = transcript.duration or 0.0
    edits = build_edit_list(transcript, duration, None, settings)
    renderer = EditRenderer(edits, RATE, 1, block_samples=block, snap_seconds=0.002)
    out_blocks = list(renderer.render(decode_blocks(path, RATE, 1, block)))
    assert max(b.shape[1] for b in out_blocks) <= block
    out = np.concatenate(out_blocks, axis=1)
    final = renderer.snapped_edit_list()
    return out, final, retime_transcript(transcript, final)


def _locate(out: np.ndarray, snippet: np.ndarray) -> tuple[int, float]:
    """Best match of `snippet` in `out` by normalised cross-correlation."""
    corr = signal.correlate(out, snippet, mode="valid", method="fft")
    csum = np.concatenate([[0.0], np.cumsum(out.astype(np.float64) ** 2)])
    energy = csum[snippet.size :] - csum[: -snippet.size]
    norm = corr / np.sqrt(np.maximum(energy, 1e-12) * float(np.dot(snippet, snippet)))
    i = int(np.argmax(norm))
    return i, float(norm[i])


@pytest.mark.parametrize("seed", [0, 1])
def test_fillers_removed_pauses_shortened_words_intact(tmp_path: Path, seed: int) -> None:
    path, transcript, src = build_recording(tmp_path, seed)
    out, edits, retimed = _cut(path, transcript, CleaningSettings())
    assert out.shape[1] == round(edits.episode_duration * RATE)
    src_words = transcript.words()
    kept_texts = [w.text for w in retimed.words()]
    assert kept_texts == [w.text for w in src_words if normalise_word(w.text) not in FILLERS]

    found: list[tuple[float, float]] = []
    for w in src_words:
        a, b = round(w.start * RATE), round(w.end * RATE)
        pos, score = _locate(out[0], src[0, a:b])
        if normalise_word(w.text) in FILLERS:
            assert score < 0.5, f"filler {w.text!r} still audible"
            continue
        assert score > 0.999
        # no word clipped: the kept word's samples are the source samples, bit for bit
        assert np.array_equal(out[0, pos : pos + (b - a)], src[0, a:b])
        found.append((pos / RATE, (pos + b - a) / RATE))

    # the re-timed transcript says where the words are in the output
    for (start, end), w in zip(found, retimed.words(), strict=True):
        assert abs(w.start - start) <= 0.020 and abs(w.end - end) <= 0.020

    # pauses: long ones (after the fillers are gone) become the target, short ones stay
    kept_src = [w for w in src_words if normalise_word(w.text) not in FILLERS]
    for k in range(len(kept_src) - 1):
        filler_time = sum(
            w.end - w.start + 0.0 for w in src_words
            if normalise_word(w.text) in FILLERS and kept_src[k].end <= w.start < kept_src[k + 1].start
        )
        source_gap = kept_src[k + 1].start - kept_src[k].end
        episode_gap = found[k + 1][0] - found[k][1]
        if source_gap - filler_time > 1.5:
            assert abs(episode_gap - 0.5) <= 0.020, (kept_src[k].text, episode_gap)
        elif filler_time == 0:
            assert abs(episode_gap - source_gap) <= 0.020
        else:
            assert episode_gap <= source_gap - filler_time + 0.2


def test_joins_have_no_clicks(tmp_path: Path) -> None:
    path, transcript, _ = build_recording(tmp_path)
    out, edits, _ = _cut(path, transcript, CleaningSettings())
    # around every join the sample-to-sample step stays at the level of the room tone
    for a in (round(edits.source_to_episode(c.start) * RATE) for c in edits.cuts):
        window = out[0, max(0, a - 300) : a + 300]
        assert np.abs(np.diff(window)).max() < 0.01


def test_settings_switch_cuts_off(tmp_path: Path) -> None:
    path, transcript, _ = build_recording(tmp_path)
    _out, edits, retimed = _cut(
        path, transcript, CleaningSettings(remove_fillers=False, shorten_pauses=False)
    )
    assert edits.cuts == ()
    assert len(retimed.words()) == len(transcript.words())


def test_user_cuts_by_words_and_time(tmp_path: Path) -> None:
    path, transcript, _ = build_recording(tmp_path)
    words = transcript.words()
    settings = CleaningSettings(
        user_cuts=[UserCut(first_word=4, last_word=5), UserCut(start=words[9].start - 0.05, end=words[9].end + 0.05)]
    )
    _, edits, retimed = _cut(path, transcript, settings)
    texts = [w.text for w in retimed.words()]
    assert "talk" not in texts and "about" not in texts and "and" not in texts
    assert "tape" in texts and "loops" in texts
    assert edits.summary()["user"]["count"] >= 2


def test_multiword_fillers_opt_in(tmp_path: Path) -> None:
    words = [
        Word(text="I", start=0.5, end=0.6), Word(text="mean,", start=0.7, end=0.9),
        Word(text="you", start=1.0, end=1.1), Word(text="know", start=1.15, end=1.3),
        Word(text="yes", start=1.5, end=1.8),
    ]
    transcript = Transcript(segments=[Segment(id="a", start=0.5, end=1.8, text="I mean, you know yes", words=words)])
    off = build_edit_list(transcript, 3.0, None, CleaningSettings(shorten_pauses=False))
    on = build_edit_list(transcript, 3.0, None, CleaningSettings(shorten_pauses=False, multiword_fillers=True))
    assert off.cuts == ()
    assert {i for c in on.cuts for i in c.word_indices} == {0, 1, 2, 3}
    assert [w.text for w in retime_transcript(transcript, on).words()] == ["yes"]


def test_speech_regions_protect_untranscribed_sound() -> None:
    words = [Word(text="a", start=0.5, end=0.8), Word(text="b", start=5.0, end=5.3)]
    transcript = Transcript(segments=[Segment(id="a", start=0.5, end=5.3, text="a b", words=words)])
    plain = build_edit_list(transcript, 6.0, None, CleaningSettings())
    guarded = build_edit_list(transcript, 6.0, [(2.0, 3.0)], CleaningSettings())
    assert any(c.start < 2.5 < c.end for c in plain.cuts)
    assert not any(c.start < 3.0 and c.end > 2.0 for c in guarded.cuts)


def test_produce_without_loudness_keeps_words_bit_identical(tmp_path: Path) -> None:
    from tapeworks.production.pipeline import LoudnessSettings, RenderSettings, produce
    from tests.helpers.audio import decode_all

    path, transcript, src = build_recording(tmp_path)
    out_path = tmp_path / "ep.wav"
    result = produce(path, transcript, out_path, loudness=LoudnessSettings(enabled=False),
                     render=RenderSettings(format="wav", channels=1))
    out, _ = decode_all(out_path)
    assert abs(out.shape[1] / RATE - result.edit_list.episode_duration) < 1e-3
    by_text = {w.text: w for w in transcript.words()}
    for w in result.transcript.words():
        s = by_text[w.text]
        a, b = round(s.start * RATE), round(s.end * RATE)
        pos = round(w.start * RATE)
        assert np.array_equal(out[0, pos : pos + b - a], src[0, a:b]), w.text


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 40000), st.integers(1, 3000)), max_size=12),
       st.integers(300, 5000))
def test_renderer_output_is_the_kept_ranges(raw: list[tuple[int, int]], block: int) -> None:
    rng = np.random.default_rng(len(raw))
    src = rng.standard_normal((2, 44100)).astype(np.float32)
    cuts = [Cut(a / RATE, min(a + d, 44100) / RATE, "user") for a, d in raw]
    edits = EditList.build(1.0, cuts)
    renderer = EditRenderer(edits, RATE, 2, block_samples=block, snap_seconds=0.002)
    blocks = list(renderer.render(rechunk([src], block)))
    assert all(b.shape[1] <= max(block, 2 * renderer.half_fade) for b in blocks)
    assert renderer.max_buffered <= 2 * block + 1000
    out = np.concatenate(blocks, axis=1) if blocks else np.zeros((2, 0), np.float32)
    final = renderer.snapped_edit_list()
    assert out.shape[1] == round(final.episode_duration * RATE)
    # away from joins (2h: the fades at the very start and end are 2h long) every
    # kept sample is the source sample
    edge = 2 * renderer.half_fade
    pos = 0
    for a, b in final.kept_ranges():
        a_i, b_i = round(a * RATE), round(b * RATE)
        if b_i - a_i > 2 * edge:
            assert np.array_equal(out[:, pos + edge : pos + (b_i - a_i) - edge], src[:, a_i + edge : b_i - edge])
        pos += b_i - a_i
