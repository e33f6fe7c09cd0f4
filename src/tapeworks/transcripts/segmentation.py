"""Group timed words into segments, and join word texts with the right spacing.

`build_segments` is used by the speech pipeline (after transcription and diarization)
and by re-timing (after cuts). It starts a new segment when

* the speaker changes (``word.speaker`` differs from the current segment's),
* the pause before a word is longer than ``max_gap`` seconds,
* adding the word would make the segment longer than ``max_duration`` seconds
  (a single word longer than that still makes one segment), or
* the previous word ends a sentence (``. ? !`` and their CJK forms) and the segment is
  already at least ``min_sentence_duration`` seconds long.

Segment ids are ``seg-0001``, ``seg-0002``, ... in time order. Word texts are stripped
(Whisper words usually carry a leading space); the segment text is the words joined by
`join_words`. The input words are never modified: the segments hold copies.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence

from tapeworks.transcripts.model import Segment, Word

SENTENCE_END = (".", "?", "!", "…", "。", "？", "！")
# Tokens starting with these attach to the previous token without a space.
_CLOSING = set(",.;:!?)]}%…»”’、。，；：！？）」』】")
# Tokens ending with these take the next token without a space.
_OPENING = set("([{¿¡«“‘「『【")
_CONTRACTION = re.compile(r"^(?:'|’)(?:s|t|d|m|ll|re|ve)\b|^n['’]t\b", re.IGNORECASE)


def segment_id(n: int) -> str:
    return f"seg-{n:04d}"


def _no_space_script(ch: str) -> bool:
    """Scripts written without spaces between words (CJK, Thai, ...)."""
    if not ch:
        return False
    cp = ord(ch)
    return (
        0x3040 <= cp <= 0x30FF  # hiragana, katakana
        or 0x3400 <= cp <= 0x4DBF  # CJK ext A
        or 0x4E00 <= cp <= 0x9FFF  # CJK unified
        or 0xF900 <= cp <= 0xFAFF
        or 0x0E00 <= cp <= 0x0E7F  # Thai
        or 0x3000 <= cp <= 0x303F  # CJK punctuation
        or 0xFF00 <= cp <= 0xFFEF  # full-width forms
    )


def needs_space(prev: str, token: str, *, raw_token: str | None = None) -> bool:
    """Whether a space goes between two stripped tokens."""
    if not prev or not token:
        return False
    if token[0] in _CLOSING or _CONTRACTION.match(token):
        return False
    if prev[-1] in _OPENING:
        return False
    if raw_token is not None and raw_token[:1].isspace():
        return True
    return not (_no_space_script(prev[-1]) and _no_space_script(token[0]))


def join_words(texts: Iterable[str]) -> str:
    """Join word texts into readable text.

    Each text is stripped; tokens are separated by one space, except before closing
    punctuation and contractions ("," "." "'s" "n't"), after opening brackets, and between
    two characters of scripts written without spaces (Chinese, Japanese, Thai) unless the
    raw token itself carried a leading space (Whisper's convention for a new word).
    """
    return join_words_with_spans(texts)[0]


def join_words_with_spans(texts: Iterable[str]) -> tuple[str, list[tuple[int, int] | None]]:
    """`join_words`, plus each input's (start, end) character span in the result
    (``None`` for inputs that are empty after stripping)."""
    out: list[str] = []
    spans: list[tuple[int, int] | None] = []
    pos = 0
    prev = ""
    for raw in texts:
        tok = normalise_space(raw)
        if not tok:
            spans.append(None)
            continue
        if out and needs_space(prev, tok, raw_token=raw):
            out.append(" ")
            pos += 1
        out.append(tok)
        spans.append((pos, pos + len(tok)))
        pos += len(tok)
        prev = tok
    return "".join(out), spans


def normalise_space(text: str) -> str:
    """NFC, strip, collapse every run of whitespace (including newlines) to one space."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def ends_sentence(text: str) -> bool:
    t = text.rstrip().rstrip("\"'”’»)]")
    return t.endswith(SENTENCE_END)


def build_segments(
    words: Sequence[Word],
    *,
    max_gap: float = 1.0,
    max_duration: float = 30.0,
    min_sentence_duration: float = 5.0,
    start_index: int = 1,
) -> list[Segment]:
    """Group words into segments (see the module docstring for the rules)."""
    if max_gap < 0 or max_duration <= 0:
        raise ValueError("max_gap must be >= 0 and max_duration > 0")
    # Stable sort by start: words arrive in time order, but be safe after re-timing.
    ordered = sorted(words, key=lambda w: w.start)
    groups: list[list[tuple[str, Word]]] = []
    current: list[tuple[str, Word]] = []
    for w in ordered:
        text = normalise_space(w.text)
        if not text:
            continue
        start = max(0.0, w.start)
        word = w.model_copy(update={"text": text, "start": start, "end": max(start, w.end)})
        if current:
            first = current[0][1]
            last = current[-1][1]
            seg_duration = last.end - first.start
            if (
                word.speaker != first.speaker
                or word.start - last.end > max_gap
                or word.end - first.start > max_duration
                or (ends_sentence(last.text) and seg_duration >= min_sentence_duration)
            ):
                groups.append(current)
                current = []
        current.append((w.text, word))
    if current:
        groups.append(current)

    segments: list[Segment] = []
    for i, group in enumerate(groups):
        ws = [w for _, w in group]
        segments.append(
            Segment(
                id=segment_id(start_index + i),
                speaker=ws[0].speaker,
                start=ws[0].start,
                end=max(w.end for w in ws),
                text=join_words(raw for raw, _ in group),
                words=ws,
            )
        )
    return segments
