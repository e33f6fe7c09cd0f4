"""A deterministic engine without a model, for tests of the job machinery.

It emits one word "speech" per 0.5 s of each voiced (energy) region of at least 0.2 s,
and can be made slow on purpose (`realtime_factor` seconds of sleep per audio second).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from tapeworks.audio.decode import SPEECH_RATE
from tapeworks.audio.vad import EnergyVad
from tapeworks.speech.engines.base import EngineResult, EngineSegment, EngineWord
from tapeworks.transcripts.model import ModelInfo

WORD = "speech"
WORD_SECONDS = 0.5
MIN_REGION_SECONDS = 0.2


def fake_words(samples: np.ndarray, vad: EnergyVad | None = None) -> list[EngineWord]:
    words: list[EngineWord] = []
    for region in (vad or EnergyVad()).detect(samples):
        if region.duration < MIN_REGION_SECONDS:
            continue
        count = max(1, int(region.duration // WORD_SECONDS))
        step = region.duration / count
        for i in range(count):
            start = region.start + i * step
            words.append(EngineWord(WORD, round(start, 3), round(start + step, 3), 0.99))
    return words


@dataclass
class FakeEngine:
    realtime_factor: float = 0.0
    info: ModelInfo = field(
        default_factory=lambda: ModelInfo(engine="fake", name="fake", source="builtin")
    )

    def transcribe_window(
        self, samples: np.ndarray, *, language: str | None, prompt: str | None
    ) -> EngineResult:
        if self.realtime_factor > 0:
            time.sleep(self.realtime_factor * len(samples) / SPEECH_RATE)
        words = fake_words(samples)
        segments = [EngineSegment(w.text, w.start, w.end, [w]) for w in words]
        return EngineResult(segments, language or "en")
