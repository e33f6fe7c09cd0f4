"""Subtitle cues to broadcast rules, and the one way times are rounded (issue 11).

Every SRT and VTT export is built from `subtitle_cues`:

* at most two lines of at most 42 characters per cue (the ``Name: `` an SRT cue starts
  with counts on the first line); lines are balanced, and a single word longer than a
  line stands alone on it;
* at most 7 s per cue; a segment is split into the fewest cues that obey the rules,
  avoiding cues shorter than the minimum where it can;
* a speaker change always ends a cue, and within a turn cues follow the segments;
* a cue shorter than 0.8 s is merged with a neighbour of the same turn (at most 1.5 s
  away, when the result still obeys the rules); failing that it is extended into the
  silence after it, up to 0.8 s or the next cue, whichever comes first; with no silence
  after it, it is left short;
* times are rounded to the millisecond once, here, with `to_ms`, so the SRT, the VTT,
  the JSON and the page all show the same instants.

Rounding: `to_ms(t) = floor(t * 1000 + 0.5)` (half up), and `round_seconds(t) =
floor(t + 0.5)` for clock displays. JavaScript's ``Math.round(t * 1000)`` and
``Math.round(t)`` give exactly the same numbers for the same double, which is what the
pages use; `ROUNDING` says this in the API.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from tapeworks.transcripts.model import Segment, Transcript
from tapeworks.transcripts.parsers import Cue
from tapeworks.transcripts.segmentation import join_words_with_spans

MAX_LINE_CHARS = 42
MAX_LINES = 2
MIN_CUE_SECONDS = 0.8
MAX_CUE_SECONDS = 7.0
MERGE_GAP_SECONDS = 1.5
MIN_FIRST_LINE_CHARS = 12  # however long a speaker's name, the first line keeps this much
ROUNDING = {
    "unit": "millisecond",
    "rule": "half up: floor(seconds * 1000 + 0.5)",
    "javascript": "Math.round(seconds * 1000)",
    "clock": "whole seconds, half up: Math.round(seconds)",
}


def to_ms(seconds: float) -> int:
    """Milliseconds, rounded half up (never negative): the one rounding of every export."""
    return max(0, math.floor(seconds * 1000 + 0.5))


def round_time(seconds: float) -> float:
    """`seconds` rounded to the millisecond as every export shows it."""
    return to_ms(seconds) / 1000


def round_seconds(seconds: float) -> int:
    """Whole seconds, rounded half up, for clock displays (``00:00:07`` for 6.75 s)."""
    return max(0, math.floor(seconds + 0.5))


# ---------------------------------------------------------------- tokens


@dataclass(frozen=True)
class _Token:
    text: str
    start: float
    end: float


def segment_tokens(seg: Segment, text: str) -> list[_Token]:
    """The space-separated tokens of `text` (the segment's cleaned text) with times: from
    the words when they spell the text, else proportional to the characters. The first
    token starts at the segment's start and the last ends at its end."""
    tokens = text.split(" ")
    times = _word_times(seg, tokens) or _proportional_times(seg, tokens)
    out = [_Token(tok, a, max(a, b)) for tok, (a, b) in zip(tokens, times, strict=True)]
    if out:
        out[0] = replace(out[0], start=seg.start)
        out[-1] = replace(out[-1], end=max(seg.end, out[-1].start))
    for i in range(1, len(out)):  # times never run backwards
        if out[i].start < out[i - 1].end:
            out[i] = replace(out[i], start=out[i - 1].end, end=max(out[i].end, out[i - 1].end))
    return out


def _word_times(seg: Segment, tokens: list[str]) -> list[tuple[float, float]] | None:
    words = seg.words
    if not words:
        return None
    joined, spans = join_words_with_spans(w.text for w in words)
    if joined != " ".join(tokens):
        return None
    times: list[tuple[float, float]] = []
    pos = 0
    for tok in tokens:
        lo, hi = pos, pos + len(tok)
        pos = hi + 1
        hits = [(w.start, w.end) for w, sp in zip(words, spans, strict=True)
                if sp is not None and sp[0] < hi and sp[1] > lo]
        if not hits:
            return None
        times.append((min(h[0] for h in hits), max(h[1] for h in hits)))
    return times


def _proportional_times(seg: Segment, tokens: list[str]) -> list[tuple[float, float]]:
    total = sum(len(x) + 1 for x in tokens) or 1
    span = max(0.0, seg.end - seg.start)
    out, pos = [], 0
    for tok in tokens:
        a = seg.start + span * pos / total
        pos += len(tok) + 1
        out.append((a, seg.start + span * (pos - 1) / total))
    return out


# ---------------------------------------------------------------- lines


def layout(tokens: Sequence[str], first_line: int = MAX_LINE_CHARS,
           line: int = MAX_LINE_CHARS) -> list[str] | None:
    """The tokens on at most two balanced lines (`first_line` characters on the first,
    `line` on the second), or None when they do not fit. A single token longer than a
    line is allowed alone."""
    if not tokens:
        return []
    whole = " ".join(tokens)
    if len(tokens) == 1 or len(whole) <= first_line:
        return [whole]
    best: tuple[int, list[str]] | None = None
    for k in range(1, len(tokens)):
        a, b = " ".join(tokens[:k]), " ".join(tokens[k:])
        if len(a) <= first_line and len(b) <= line:
            score = max(len(a), len(b))
            if best is None or score < best[0]:
                best = (score, [a, b])
    return best[1] if best else None


# ---------------------------------------------------------------- cues


@dataclass
class _Draft:
    tokens: list[_Token]
    speaker: str | None
    identifier: str
    first_line: int

    @property
    def start(self) -> float:
        return self.tokens[0].start

    @property
    def end(self) -> float:
        return self.tokens[-1].end

    def lines(self) -> list[str] | None:
        return layout([t.text for t in self.tokens], self.first_line)


def _first_line_budget(label: str | None) -> int:
    if not label:
        return MAX_LINE_CHARS
    return max(MIN_FIRST_LINE_CHARS, MAX_LINE_CHARS - len(label) - 2)


def _fits(tokens: Sequence[_Token], first_line: int) -> bool:
    if tokens[-1].end - tokens[0].start > MAX_CUE_SECONDS and len(tokens) > 1:
        return False
    return layout([t.text for t in tokens], first_line) is not None


def _split_segment(tokens: list[_Token], first_line: int) -> list[list[_Token]]:
    """The fewest cues that obey the rules; among those, the fewest short cues, then
    the most even fill (a dynamic programme over the token boundaries)."""
    n = len(tokens)
    capacity = first_line + MAX_LINE_CHARS
    best: list[tuple[float, int] | None] = [None] * (n + 1)
    best[0] = (0.0, 0)
    for j in range(1, n + 1):
        for i in range(j - 1, -1, -1):
            before = best[i]
            if before is None:
                continue
            piece = tokens[i:j]
            if not _fits(piece, first_line):
                if j - i > 1:
                    break  # longer pieces ending at j do not fit either
                continue
            chars = len(" ".join(t.text for t in piece))
            short = piece[-1].end - piece[0].start < MIN_CUE_SECONDS
            cost = before[0] + 1e6 + (1e4 if short else 0.0) + (capacity - chars) ** 2
            here = best[j]
            if here is None or cost < here[0]:
                best[j] = (cost, i)
    cuts: list[list[_Token]] = []
    j = n
    while j > 0:
        entry = best[j]
        i = entry[1] if entry is not None else j - 1
        cuts.append(tokens[i:j])
        j = i
    return cuts[::-1]


def _drafts(t: Transcript, clean: Callable[[str], str],
            label_of: Callable[[Transcript, str | None], str | None]) -> list[_Draft]:
    drafts: list[_Draft] = []
    for seg in t.segments:
        text = clean(seg.text)
        if not text:
            continue
        label = label_of(t, seg.speaker)
        budget = _first_line_budget(label)
        for n, piece in enumerate(_split_segment(segment_tokens(seg, text), budget)):
            ident = seg.id if n == 0 else f"{seg.id}#{n + 1}"
            drafts.append(_Draft(piece, label, ident, budget))
    return drafts


def _merge_short(drafts: list[_Draft]) -> list[_Draft]:
    """Merge each short cue with a neighbour of the same speaker, nearest first."""
    changed = True
    while changed:
        changed = False
        for k, d in enumerate(drafts):
            if d.end - d.start >= MIN_CUE_SECONDS:
                continue
            options: list[tuple[float, int, _Draft]] = []
            for other in (k - 1, k + 1):
                if not 0 <= other < len(drafts):
                    continue
                o = drafts[other]
                if o.speaker != d.speaker:
                    continue
                first, second = (o, d) if other < k else (d, o)
                gap = second.start - first.end
                tokens = first.tokens + second.tokens
                if gap <= MERGE_GAP_SECONDS and _fits(tokens, first.first_line):
                    options.append((gap, other, _Draft(tokens, d.speaker, first.identifier, first.first_line)))
            if options:
                _, other, joined = min(options, key=lambda x: x[0])
                lo = min(k, other)
                drafts[lo : lo + 2] = [joined]
                changed = True
                break
    return drafts


def subtitle_cues(
    t: Transcript,
    clean: Callable[[str], str],
    label_of: Callable[[Transcript, str | None], str | None],
) -> list[Cue]:
    """The cues of every SRT and VTT export, in order (see the module docstring).
    `clean` normalises a segment's text, `label_of` gives a speaker's shown name."""
    drafts = _merge_short(_drafts(t, clean, label_of))
    limit = t.duration if t.duration is not None else math.inf
    cues: list[Cue] = []
    for k, d in enumerate(drafts):
        start, end = d.start, d.end
        if end - start < MIN_CUE_SECONDS:
            following = drafts[k + 1].start if k + 1 < len(drafts) else limit
            end = max(end, min(start + MIN_CUE_SECONDS, following, max(limit, end)))
        lines = d.lines() or [" ".join(tok.text for tok in d.tokens)]
        s_ms = to_ms(start)
        if cues:
            s_ms = max(s_ms, to_ms(cues[-1].end))
        e_ms = max(s_ms, to_ms(end))
        cues.append(Cue(start=s_ms / 1000, end=e_ms / 1000, speaker=d.speaker,
                        text=" ".join(lines), identifier=d.identifier, lines=tuple(lines)))
    return cues
