"""faster-whisper (CTranslate2) behind the window-engine interface."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import structlog

from tapeworks.errors import EngineError
from tapeworks.speech.engines.base import EngineResult, EngineSegment, EngineWord
from tapeworks.speech.engines.models import ResolvedModel, resolve_model
from tapeworks.transcripts.model import ModelInfo

log = structlog.get_logger("tapeworks.speech")

DEFAULT_THREADS = 2
BEAM_SIZE = 5

_models: dict[tuple[str, str, str, int], Any] = {}
_models_lock = threading.Lock()


def load_whisper(resolved: ResolvedModel, compute_type: str = "int8", threads: int = DEFAULT_THREADS) -> Any:
    """A WhisperModel for `resolved`, loaded once per process per (path, sha, settings)."""
    key = (str(resolved.path), resolved.sha256, compute_type, threads)
    with _models_lock:
        if key not in _models:
            from faster_whisper import WhisperModel

            try:
                _models[key] = WhisperModel(
                    str(resolved.path), device="cpu", compute_type=compute_type, cpu_threads=threads
                )
            except (RuntimeError, ValueError, OSError) as exc:
                raise EngineError(
                    f"speech model {resolved.name!r} at {resolved.path} could not be loaded: {exc}"
                ) from exc
            log.info("speech.model_loaded", name=resolved.name, path=str(resolved.path))
        return _models[key]


@dataclass
class WhisperEngine:
    resolved: ResolvedModel
    threads: int = DEFAULT_THREADS
    beam_size: int = BEAM_SIZE
    hotwords: str | None = None  # words to expect (e.g. the spoken edit marker "flubber")
    info: ModelInfo = field(init=False)
    _model: Any = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.info = ModelInfo(
            engine="whisper", name=self.resolved.name, source=self.resolved.source,
            sha256=self.resolved.sha256,
        )
        self._model = load_whisper(self.resolved, threads=self.threads)

    @classmethod
    def open(
        cls, name: str, model_path: str | Path | None = None, model_dir: str | Path | None = None,
        threads: int = DEFAULT_THREADS,
    ) -> WhisperEngine:
        return cls(resolve_model(name, model_path, model_dir), threads=threads)

    def transcribe_window(
        self, samples: np.ndarray, *, language: str | None, prompt: str | None
    ) -> EngineResult:
        try:
            segments, info = self._model.transcribe(
                samples.astype(np.float32, copy=False),
                language=language,
                beam_size=self.beam_size,
                word_timestamps=True,
                vad_filter=False,
                initial_prompt=prompt or None,
                hotwords=self.hotwords or None,
                condition_on_previous_text=True,
            )
            out = [_segment(s) for s in segments]
        except (RuntimeError, ValueError) as exc:
            raise EngineError(f"whisper failed on a window: {exc}") from exc
        return EngineResult(out, info.language)


def _segment(seg: Any) -> EngineSegment:
    words = [
        EngineWord(w.word.strip(), float(w.start), float(w.end), float(w.probability))
        for w in (seg.words or [])
        if w.word.strip()
    ]
    return EngineSegment(seg.text.strip(), float(seg.start), float(seg.end), words)
