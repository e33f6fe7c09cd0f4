from __future__ import annotations

import itertools

import numpy as np

from tapeworks.audio.decode import SPEECH_RATE, AudioChunk
from tapeworks.audio.vad import BackedVad, EnergyVad, Region, iter_speech_regions, merge_regions
from tapeworks.speech.alignment import align_words
from tapeworks.speech.engines.base import EngineWord
from tapeworks.speech.windows import iter_windows
from tests.helpers.audio import tone_bursts

BURSTS = [(1.0, 2.0), (3.5, 6.0), (9.0, 9.6), (30.0, 33.0), (47.0, 48.5)]


def _chunks(audio: np.ndarray, seconds: float) -> list[AudioChunk]:
    n = int(seconds * SPEECH_RATE)
    return [AudioChunk(i / SPEECH_RATE, audio[i : i + n]) for i in range(0, len(audio), n)]


def test_energy_vad_finds_bursts() -> None:
    regions = EnergyVad().detect(tone_bursts(BURSTS, 50.0))
    assert len(regions) == len(BURSTS)
    for r, (s, e) in zip(regions, BURSTS, strict=True):
        assert abs(r.start - s) < 0.05 and abs(r.end - e) < 0.05


def test_streaming_regions_match_whole_file_detection() -> None:
    audio = tone_bursts(BURSTS, 50.0)
    whole = EnergyVad().detect(audio)
    streamed = list(iter_speech_regions(_chunks(audio, 3.0), EnergyVad()))
    assert len(streamed) == len(whole)
    for a, b in zip(streamed, whole, strict=True):
        assert abs(a.start - b.start) < 0.03 and abs(a.end - b.end) < 0.03


def test_merge_regions_bridges_small_gaps() -> None:
    merged = merge_regions([Region(2, 3), Region(0, 1), Region(1.1, 1.5)], max_gap=0.2)
    assert merged == [Region(0, 1.5), Region(2, 3)]


def test_windows_are_bounded_cut_in_silence_and_cover_the_file() -> None:
    audio = tone_bursts(BURSTS, 50.0)
    windows = list(iter_windows(_chunks(audio, 10.0), EnergyVad(), max_seconds=20, min_seconds=5))
    assert all(len(w.samples) <= 20 * SPEECH_RATE for w in windows)
    assert windows[0].start == 0.0
    for a, b in itertools.pairwise(windows):
        assert abs(a.end - b.start) < 1e-6
        assert not any(s < a.end < e for s, e in BURSTS), "cut inside speech"
    assert abs(windows[-1].end - 50.0) < 1e-3


def _w(text: str, start: float, end: float) -> EngineWord:
    return EngineWord(text, start, end)


def test_alignment_clips_edges_to_speech_and_drops_text_over_silence() -> None:
    regions = [Region(1.0, 2.0), Region(3.0, 4.0), Region(10.0, 11.0)]
    words = [
        _w("early", 0.7, 1.3),  # starts in silence: clipped to 1.0
        _w("long", 1.5, 2.8),  # ends in silence: clipped to 2.0
        _w("before", 2.6, 2.9),  # just before a region: moved onto its start
        _w("span", 3.2, 3.9),
        _w("ghost", 6.0, 7.0),  # far from any speech: dropped
        _w("late", 11.2, 11.4),  # just after a region: moved onto its end
    ]
    aligned = align_words(words, regions)
    assert [w.text for w in aligned] == ["early", "long", "before", "span", "late"]
    for w in aligned:
        assert any(r.start <= w.start <= r.end and r.start <= w.end <= r.end for r in regions), w
        assert w.end >= w.start
    assert aligned[0].start == 1.0 and aligned[1].end == 2.0 and aligned[2].start == 3.0
    assert all(a.end <= b.start for a, b in itertools.pairwise(aligned))


def test_alignment_keeps_word_crossing_a_gap_in_its_larger_part() -> None:
    aligned = align_words([_w("cross", 1.8, 3.6)], [Region(1.0, 2.0), Region(3.0, 4.0)])
    assert (aligned[0].start, aligned[0].end) == (3.0, 3.6)


def test_backed_vad_adds_only_what_the_primary_missed() -> None:
    class Fixed:
        def __init__(self, regions: list[Region]) -> None:
            self.regions = regions

        def detect(self, samples: np.ndarray, offset: float = 0.0) -> list[Region]:
            return self.regions

    primary = Fixed([Region(1.0, 2.0), Region(5.0, 6.0)])
    backup = Fixed([Region(0.8, 2.4), Region(3.0, 4.0), Region(5.5, 7.0)])
    regions = BackedVad(primary, backup).detect(np.zeros(10))
    assert regions == [Region(1.0, 2.0), Region(3.0, 4.0), Region(5.0, 6.0)]


def test_adaptive_energy_vad_ignores_the_noise_floor() -> None:
    rng = np.random.default_rng(1)
    audio = tone_bursts([(2.0, 3.0)], 5.0) + rng.normal(0, 0.01, 5 * SPEECH_RATE).astype(np.float32)
    audio[: SPEECH_RATE] = 0.0  # digital silence does not count as the floor
    regions = EnergyVad(threshold=0.003, floor_factor=6.0).detect(audio)
    assert len(regions) == 1 and abs(regions[0].start - 2.0) < 0.05 and abs(regions[0].end - 3.0) < 0.05
