"""Cuts checked against the source audio (production/verify.py, issue 11)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tapeworks.audio.decode import decode_blocks, decode_excerpts, read_all
from tapeworks.audio.energy import frame_rms
from tapeworks.production.editlist import EditList
from tapeworks.production.pipeline import LoudnessSettings, RenderSettings, produce
from tapeworks.production.settings import CleaningSettings, UserCut
from tapeworks.production.verify import (
    KEPT_SPEECH,
    SourceSpeech,
    VerifySettings,
    verified_edit_list,
)
from tapeworks.transcripts.model import Segment, Transcript, Word
from tests.helpers.audio import RATE, decode_all, speechlike, write_wav
from tests.helpers.paths import SPEECH_DIR
from tests.helpers.spliced import JFK_ISSUE_SPLICES, JFK_WORDS, splice_silences

SPEECH_THRESHOLD = 0.01  # -40 dBFS: the synthetic words are >= -26 dBFS, the room -60 dBFS
FRAME = RATE // 100


def _transcript(words: list[Word], duration: float) -> Transcript:
    return Transcript(segments=[Segment(id="s", start=words[0].start, end=words[-1].end,
                                        text=" ".join(w.text for w in words), words=words)],
                      duration=duration)


def _overlaps(edits: EditList, a: float, b: float) -> bool:
    return any(c.start < b and c.end > a for c in edits.cuts)


# --------------------------------------------------------------------------- the jfk case


@pytest.fixture
def jfk_issue(tmp_path: Path) -> tuple[Path, list[Word], tuple[float, float]]:
    """jfk.flac with 3.0 s and 2.5 s of silence spliced in, and the issue's word timings:
    "ask" timed 7.01-7.01 s (zero length) while it is spoken at about 6.3-6.7 s."""
    source = SPEECH_DIR / "jfk.flac"
    assert source.is_file(), f"shared speech sample missing: {source}"
    spliced = splice_silences(read_all(source), JFK_ISSUE_SPLICES)
    path = tmp_path / "jfk-gaps.wav"
    write_wav(path, spliced.samples[None, :], rate=spliced.rate)
    words = [Word(text=t, start=round(spliced.shift(a), 3), end=round(spliced.shift(b), 3))
             for t, a, b in JFK_WORDS]
    ask = (words[5].start, words[5].end)
    assert words[5].text == "ask" and 6.3 < ask[0] < 6.4
    words[5] = Word(text="ask", start=7.01, end=7.01)
    return path, words, ask


def test_the_issue_case_is_reproduced_without_the_check(jfk_issue) -> None:
    path, words, ask = jfk_issue
    plain = verified_edit_list(path, _transcript(words, 16.5), 16.5,
                               verify=VerifySettings(enabled=False)).edit_list
    assert _overlaps(plain, *ask)  # the pause cut ran 2.35-6.76 s and took "ask" with it


def test_a_pause_cut_never_takes_a_mistimed_word(jfk_issue, tmp_path: Path) -> None:
    path, words, ask = jfk_issue
    checked = verified_edit_list(path, _transcript(words, 16.5), 16.5).edit_list
    assert not _overlaps(checked, ask[0] - 0.03, ask[1] + 0.03)
    assert sum(c.kind == "pause" for c in checked.cuts) == 2  # both silences still shortened
    assert sum(c.duration for c in checked.cuts) > 4.0
    # rendered: the samples of "ask" are in the episode, untouched (but for the 16-bit WAV)
    out = tmp_path / "ep.wav"
    result = produce(path, _transcript(words, 16.5), out, loudness=LoudnessSettings(enabled=False),
                     render=RenderSettings(format="wav", channels=1, sample_rate=44100))
    episode, _ = decode_all(out)
    source = np.concatenate(list(decode_blocks(path, RATE, 1, RATE)), axis=1)
    a, b = round(ask[0] * RATE), round(ask[1] * RATE)
    at = round(result.edit_list.source_to_episode(ask[0]) * RATE)
    assert np.allclose(episode[0, at : at + b - a], source[0, a:b], rtol=0, atol=1.01 / 32768)
    assert "ask" in [w.text for w in result.transcript.words()][5:6]


# --------------------------------------------------------------------------- property


WORD_TEXT = ["so", "today", "we", "talk", "about", "tape", "and", "loops", "this", "is"]


@st.composite
def recordings(draw):
    """True word positions (synthetic speech), and the transcript's belief about them:
    some words zero-length somewhere between their neighbours, some shifted by up to
    1.5 s, some stretched over the silence after them, some placed early; some words are
    fillers ("um", a hum), timed exactly, loosely (edges off by up to 0.1 s) or zero-length.
    (A filler timed over another word's sound cannot be told from that word by the audio.)"""
    n = draw(st.integers(3, 9))
    t = draw(st.floats(0.1, 1.0))
    truth: list[tuple[float, float, str]] = []
    for i in range(n):
        length = draw(st.floats(0.15, 0.6))
        filler = draw(st.integers(0, 5)) == 0
        truth.append((t, t + length, "um" if filler else WORD_TEXT[i % len(WORD_TEXT)]))
        t += length + draw(st.sampled_from([0.05, 0.15, 0.4, 1.0, 2.0, 3.0]))
    duration = t + draw(st.floats(0.0, 2.5))
    believed: list[Word] = []
    for i, (a, b, text) in enumerate(truth):
        lo = truth[i - 1][1] if i else 0.0
        hi = truth[i + 1][0] if i + 1 < n else duration
        if text == "um":  # what the transcript calls a filler is one, roughly where it says
            error = draw(st.sampled_from(["exact", "loose", "zero"]))
        else:
            error = draw(st.sampled_from(["exact", "exact", "zero", "shifted", "stretched", "early"]))
        if error == "loose":
            believed.append(Word(text=text, start=a + draw(st.floats(-0.1, 0.1)),
                                 end=b + draw(st.floats(-0.1, 0.1))))
        elif error == "zero":
            at = draw(st.floats(lo, hi))
            believed.append(Word(text=text, start=at, end=at))
        elif error == "shifted":
            delta = draw(st.floats(-1.5, 1.5))
            believed.append(Word(text=text, start=max(0.0, a + delta), end=max(0.0, b + delta)))
        elif error == "stretched":
            believed.append(Word(text=text, start=a, end=max(b, hi)))
        elif error == "early":
            believed.append(Word(text=text, start=max(lo, a - 0.6), end=max(lo, a - 0.6) + 0.05))
        else:
            believed.append(Word(text=text, start=a, end=b))
    believed.sort(key=lambda w: w.start)
    quiet_room = draw(st.booleans())
    return truth, believed, duration, quiet_room


def _write(path: Path, truth, duration: float, quiet_room: bool, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = round(duration * RATE)
    x = (rng.standard_normal(n) * (1e-3 if not quiet_room else 0.0)).astype(np.float32)
    for k, (a, b, text) in enumerate(truth):
        i, j = round(a * RATE), round(b * RATE)
        if text == "um":
            t = np.arange(j - i) / RATE
            burst = 0.15 * np.sin(2 * np.pi * 140 * t)
        else:
            burst = speechlike(b - a + 0.01, seed=seed + k)[0, : j - i] * 3.0
        ramp = np.minimum(1.0, np.minimum(np.arange(j - i), np.arange(j - i)[::-1]) / (0.01 * RATE))
        x[i:j] += (burst * ramp).astype(np.float32)
    write_wav(path, x[None, :])
    return x


@settings(max_examples=40, deadline=None)
@given(recordings(), st.integers(0, 1000))
def test_no_cut_removes_audio_above_the_speech_threshold(tmp_path_factory, case, seed) -> None:
    truth, believed, duration, quiet_room = case
    path = tmp_path_factory.mktemp("rec") / "rec.wav"
    audio = _write(path, truth, duration, quiet_room, seed)
    edits = verified_edit_list(path, _transcript(believed, duration), duration).edit_list
    fillers = [(a, b) for a, b, text in truth if text == "um"]
    for cut in edits.cuts:
        i, j = int(np.ceil(cut.start * RATE / FRAME)), int(cut.end * RATE // FRAME)
        for f in range(i, j):
            frame = audio[f * FRAME : (f + 1) * FRAME]
            if np.sqrt(np.mean(frame.astype(np.float64) ** 2)) <= SPEECH_THRESHOLD:
                continue
            t0, t1 = f * FRAME / RATE, (f + 1) * FRAME / RATE
            # loud audio inside a cut may only be a filler the cut names
            assert cut.kind in ("filler", "user") and any(a <= t1 and t0 <= b for a, b in fillers), (
                cut, (t0, t1), truth, believed)


# --------------------------------------------------------------------------- fillers


def _filler_case(tmp_path: Path, gap: float) -> tuple[Path, list[Word]]:
    """"well um okay": the filler's sound sits `gap` seconds from its neighbours."""
    x = np.zeros(round(4.0 * RATE), np.float32)
    spans = [(0.5, 1.0), (1.0 + gap, 1.35 + gap), (1.35 + 2 * gap, 2.0 + 2 * gap)]
    for k, (a, b) in enumerate(spans):
        s = speechlike(b - a, seed=k)[0] * 3.0
        x[round(a * RATE) : round(a * RATE) + len(s)] = s
    path = write_wav(tmp_path / f"filler-{gap}.wav", x[None, :])
    words = [Word(text=t, start=a, end=b) for t, (a, b) in zip(["well", "um", "okay"], spans, strict=True)]
    return path, words


def test_a_filler_with_silence_around_it_is_cut(tmp_path: Path) -> None:
    path, words = _filler_case(tmp_path, 0.2)
    edits = verified_edit_list(path, _transcript(words, 4.0), 4.0).edit_list
    (cut,) = [c for c in edits.cuts if c.kind == "filler"]
    assert cut.start <= 1.2 and cut.end >= 1.55 and cut.id == "filler-1" and cut.applied
    assert not edits.kept


def test_a_filler_timed_over_a_kept_word_is_kept_and_listed(tmp_path: Path) -> None:
    path, words = _filler_case(tmp_path, 0.2)
    # the engine put "um" over the start of "okay": cutting it would cut into "okay"
    words[1] = Word(text="um", start=1.6, end=1.9)
    words[2] = Word(text="okay", start=1.95, end=2.4)
    edits = verified_edit_list(path, _transcript(words, 4.0), 4.0).edit_list
    assert not [c for c in edits.cuts if c.kind == "filler"]
    (kept,) = edits.kept
    assert kept.applied is False and kept.reason.startswith(KEPT_SPEECH) and kept.id == "filler-1"
    assert kept.to_dict()["applied"] is False
    assert EditList.from_dict(edits.to_dict()).kept == edits.kept


def test_a_filler_cut_reaching_into_a_neighbour_is_shrunk(tmp_path: Path) -> None:
    path, words = _filler_case(tmp_path, 0.2)
    words[1] = Word(text="um", start=1.2, end=1.8)  # the timing runs into "okay" ...
    words[2] = Word(text="okay", start=1.85, end=2.4)  # ... which really starts at 1.75
    edits = verified_edit_list(path, _transcript(words, 4.0), 4.0,
                               settings=CleaningSettings(filler_pad_seconds=0.2, margin_seconds=0.0)).edit_list
    (cut,) = [c for c in edits.cuts if c.kind == "filler"]
    assert 1.55 < cut.end <= 1.75 - 0.03 + 1e-9 and cut.start <= 1.2
    assert cut.planned == (1.0, 1.85)  # the pad, clipped at "well" and "okay" by the words


# --------------------------------------------------------------------------- user cuts


def test_user_time_cuts_never_split_a_word(tmp_path: Path) -> None:
    path, words = _filler_case(tmp_path, 0.2)
    words[1] = Word(text="and", start=1.2, end=1.55)
    cleaning = CleaningSettings(remove_fillers=False, shorten_pauses=False,
                                user_cuts=[UserCut(start=0.9, end=1.5)])  # most of "and"
    edits = verified_edit_list(path, _transcript(words, 4.0), 4.0, settings=cleaning).edit_list
    (cut,) = edits.cuts
    assert (cut.start, cut.end) == (1.0, 1.55) and cut.word_indices == (1,)
    cleaning.user_cuts = [UserCut(start=0.9, end=1.3)]  # a little of "and": leave it
    (cut,) = verified_edit_list(path, _transcript(words, 4.0), 4.0, settings=cleaning).edit_list.cuts
    assert (cut.start, cut.end) == (1.0, 1.2) and cut.word_indices == ()


# --------------------------------------------------------------------------- plumbing


def test_parts_not_analysed_count_as_speech() -> None:
    speech = SourceSpeech(zones=((1.0, 2.0),), speech=((1.2, 1.3),))
    assert speech.overlapping(1.5, 1.9) == []
    assert speech.overlapping(1.1, 1.5) == [(1.2, 1.3)]
    assert speech.overlapping(1.5, 2.5) == [(2.0, 2.5)]
    assert not speech.covered(1.5, 2.5) and speech.covered(1.0, 2.0)


@pytest.mark.parametrize("fmt", ["wav", "flac", "mp3"])
def test_excerpts_are_where_the_whole_file_decodes(tmp_path: Path, fmt: str) -> None:
    from tests.helpers.audio import write_speechlike

    path = write_speechlike(tmp_path / f"s.{fmt}", seconds=6.0, sr=44100, fmt=fmt)
    whole = read_all(path)  # 16 kHz mono, one resampler over the whole file
    zones = [(0.0, 0.5), (1.234, 2.0), (5.5, 6.5)]
    excerpts = list(decode_excerpts(path, zones))
    assert [start for start, _ in excerpts] == [a for a, _ in zones]
    for (a, samples), (_, b) in zip(excerpts, zones, strict=True):
        i, j = round(a * 16000), round(min(b, len(whole) / 16000) * 16000)
        assert abs(len(samples) - (j - i)) <= 1
        n = (min(len(samples), j - i) // 160) * 160
        # each excerpt is resampled on its own grid (within a 16 kHz sample of the whole
        # file's), so compare what the analysis uses: the energy of each 10 ms frame
        ours = frame_rms(samples[:n], 160)
        theirs = frame_rms(whole[i : i + n], 160)
        assert np.allclose(ours[1:-1], theirs[1:-1], rtol=0.05, atol=1e-4)


def test_zones_read_on_both_cores_find_what_one_pass_finds(jfk_issue, monkeypatch) -> None:
    """A lossless source's zones are analysed in groups on a pool of threads; the speech
    found (and the thresholds, taken over every zone) must be those of a single pass."""
    from tapeworks.production import verify
    from tapeworks.production.editlist import Cut

    path, _, _ = jfk_issue
    duration = len(read_all(path)) / 16000
    cuts = [Cut(t, t + 0.3, "pause", "pause", id=f"p{k}") for k, t in enumerate(np.arange(0.5, duration - 1, 1.5))]
    assert verify.excerpts_seekable(path)
    monkeypatch.setattr(verify, "_ZONE_GROUP", 10_000)
    one_pass = verify.analyse_source(path, cuts, duration)
    monkeypatch.setattr(verify, "_ZONE_GROUP", 1)
    grouped = verify.analyse_source(path, cuts, duration)
    assert len(one_pass.zones) > 3 and one_pass.speech
    assert grouped == one_pass
