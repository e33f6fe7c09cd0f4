"""Group words into segments: speaker turns, split further at sentence ends and pauses."""

from __future__ import annotations

from collections.abc import Sequence

from tapeworks.transcripts.model import Segment, Word

PAUSE_SECONDS = 1.0
MAX_SEGMENT_SECONDS = 30.0
SENTENCE_END = (".", "?", "!", "…")


def segment_id(index: int) -> str:
    return f"seg-{index:04d}"


def _starts_new(prev: Word, word: Word, first: Word) -> bool:
    return (
        word.speaker != prev.speaker
        or word.start - prev.end > PAUSE_SECONDS
        or prev.text.rstrip('"\')').endswith(SENTENCE_END)
        or word.end - first.start > MAX_SEGMENT_SECONDS
    )


def _segment(index: int, words: list[Word]) -> Segment:
    return Segment(
        id=segment_id(index),
        speaker=words[0].speaker,
        start=words[0].start,
        end=words[-1].end,
        text=" ".join(w.text for w in words),
        words=words,
    )


def build_segments(words: Sequence[Word]) -> list[Segment]:
    segments: list[Segment] = []
    current: list[Word] = []
    for word in words:
        if current and _starts_new(current[-1], word, current[0]):
            segments.append(_segment(len(segments) + 1, current))
            current = []
        current.append(word)
    if current:
        segments.append(_segment(len(segments) + 1, current))
    return segments
