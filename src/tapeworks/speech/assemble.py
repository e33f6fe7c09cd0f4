"""Engine words in, a `Transcript` out: the one place every engine's result becomes a
transcript (speaker list, segments, model and diarization records)."""

from __future__ import annotations

from collections.abc import Sequence

from tapeworks.speech.engines.base import EngineWord
from tapeworks.transcripts.model import Diarization, ModelInfo, Speaker, Transcript, Word
from tapeworks.transcripts.segmentation import build_segments


def _engine_times(w: EngineWord) -> dict[str, float]:
    """The engine's own times, stored only where alignment or the timing repair moved
    the word (speech/timing.py)."""
    if w.engine_start is None or w.engine_end is None:
        return {}
    es, ee = round(w.engine_start, 3), round(w.engine_end, 3)
    if (es, ee) == (round(w.start, 3), round(w.end, 3)):
        return {}
    return {"engine_start": es, "engine_end": ee}


def assemble_transcript(
    words: Sequence[EngineWord], speaker_ids: Sequence[str], *, language: str | None,
    duration: float, model: ModelInfo, diarization: Diarization,
) -> Transcript:
    """`speaker_ids[i]` ("S1", "S2", ...) is the speaker of `words[i]`."""
    model_words = [
        Word(text=w.text, start=round(w.start, 3), end=round(w.end, 3),
             confidence=round(w.confidence, 3), speaker=sid, **_engine_times(w))
        for w, sid in zip(words, speaker_ids, strict=True)
    ]
    used = sorted(set(speaker_ids), key=lambda s: int(s[1:])) or ["S1"]
    return Transcript(
        language=language,
        duration=round(duration, 3),
        model=model,
        diarization=diarization,
        speakers=[Speaker(id=s, name=f"Speaker {s[1:]}", role=None) for s in used],
        segments=build_segments(model_words),
    )
