"""The engine interface: plain dataclasses in, plain dataclasses out.

A *window engine* (whisper, fake) transcribes one window of 16 kHz mono samples at a
time; the pipeline feeds it windows cut at silences and offsets the times. A *file
engine* (cloud) takes the whole file and returns words for all of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from tapeworks.transcripts.model import ModelInfo


@dataclass
class EngineWord:
    text: str
    start: float  # seconds
    end: float
    confidence: float = 1.0
    speaker: str | None = None  # only engines that diarize themselves (cloud) set this
    engine_start: float | None = None  # the engine's own times, kept when a word is moved
    engine_end: float | None = None


@dataclass
class EngineSegment:
    text: str
    start: float
    end: float
    words: list[EngineWord] = field(default_factory=list)


@dataclass
class EngineResult:
    segments: list[EngineSegment]
    language: str | None = None

    def words(self) -> list[EngineWord]:
        return [w for s in self.segments for w in s.words]


@runtime_checkable
class WindowEngine(Protocol):
    info: ModelInfo

    def transcribe_window(
        self, samples: np.ndarray, *, language: str | None, prompt: str | None
    ) -> EngineResult:
        """Words of one window; times relative to the window start."""
        ...
