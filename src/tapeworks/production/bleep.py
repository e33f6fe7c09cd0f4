"""Bleeps: a matched word keeps its time and its audio is replaced by a tone or silence.

1. `match_bleeps`: which words to bleep. Matching ignores case and punctuation
   ("Damn," matches "damn"); entries of several words match consecutive words.
   `DEFAULT_BLEEP_WORDS` is an optional built-in English list.
2. `bleep_spans`: where each matched word really is. Word timings from a speech
   engine are loose (early, late, stretched over silence), so the span is widened to
   the word's speech energy: 5 ms frames of the recording around the word (up to
   `reach` (0.5) seconds each side, never past the middle of a neighbouring word) above a
   threshold 35 dB under the word's loudest frame (and 6 dB over the quietest), grown
   from the frames nearest the word's timing across dips shorter than 60 ms, then
   padded by `pad` seconds. Streaming: one decode pass, at most one word's window held.
3. `bleep_blocks`: the stage of the streaming chain that replaces the spans, in
   source time, before the cuts. `beep` is a 1 kHz sine at -20 dBFS (peak 0.1) whose
   phase starts at the span; `mute` is silence. The first and last `ramp` seconds of a
   span cross-fade (inside the span, so no click); every sample outside the spans is
   passed through untouched (the same array values).
4. `bleep_transcript`: the episode's words read `[bleep]` (punctuation kept).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from tapeworks.audio.decode import Block, BlockReader, decode_blocks
from tapeworks.errors import ValidationFailed
from tapeworks.transcripts.model import Segment, Transcript, Word

BleepMode = Literal["beep", "mute"]
BLEEP_MODES: tuple[str, ...] = ("beep", "mute")
BLEEP_TEXT = "[bleep]"
TONE_HZ = 1000.0
TONE_DBFS = -20.0
ANALYSIS_RATE = 16000

# A short built-in list of English profanity (with the usual inflections); users add
# their own words with `bleep_words`.
DEFAULT_BLEEP_WORDS: tuple[str, ...] = (
    "fuck", "fucks", "fucked", "fucker", "fuckers", "fucking", "fuckin", "motherfucker",
    "motherfuckers", "motherfucking", "shit", "shits", "shitty", "shitting", "bullshit",
    "horseshit", "cunt", "cunts", "cock", "cocks", "cocksucker", "dick", "dicks", "dickhead",
    "prick", "pricks", "pussy", "asshole", "assholes", "arsehole", "arseholes", "bastard",
    "bastards", "bitch", "bitches", "bitching", "wanker", "wankers", "twat", "twats",
    "bollocks", "goddamn", "goddamned", "damn", "dammit", "piss", "pissed", "slut", "whore",
)

_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)
_FRAME_SECONDS = 0.005
_MAX_DIP_SECONDS = 0.06
_BELOW_PEAK_DB = 35.0
_ABOVE_FLOOR_DB = 6.0
_MAX_WORD_SECONDS = 3.0  # a word timing longer than this is not trusted in full


def bleep_key(text: str) -> str:
    """What matching compares: lower case, letters and digits only."""
    return _NON_WORD.sub("", text.lower())


def bleep_list(words: Sequence[str] = (), default_list: bool = False) -> list[tuple[str, ...]]:
    """The entries to match, each a tuple of keys (one per word), without duplicates."""
    entries = list(words) + (list(DEFAULT_BLEEP_WORDS) if default_list else [])
    out: dict[tuple[str, ...], None] = {}
    for entry in entries:
        keys = tuple(k for k in (bleep_key(p) for p in entry.split()) if k)
        if keys:
            out[keys] = None
    return list(out)


def match_bleeps(words: Sequence[Word], entries: Sequence[tuple[str, ...]]) -> list[int]:
    """Indices of the words to bleep, in order."""
    if not entries:
        return []
    keys = [bleep_key(w.text) for w in words]
    by_first: dict[str, list[tuple[str, ...]]] = {}
    for entry in entries:
        by_first.setdefault(entry[0], []).append(entry)
    found: set[int] = set()
    for i, key in enumerate(keys):
        for entry in by_first.get(key, ()):
            n = len(entry)
            if tuple(keys[i : i + n]) == entry and len({w.speaker for w in words[i : i + n]}) == 1:
                found.update(range(i, i + n))
    return sorted(found)


@dataclass(frozen=True)
class BleepSpan:
    start: float  # source seconds
    end: float
    word_index: int
    text: str

    def to_dict(self) -> dict[str, object]:
        return {"start": self.start, "end": self.end, "word_index": self.word_index,
                "text": self.text}


def bleep_spans(
    audio: Path,
    words: Sequence[Word],
    indices: Sequence[int],
    *,
    offset: float = 0.0,
    reach: float = 0.5,
    pad: float = 0.015,
    duration: float | None = None,
) -> list[BleepSpan]:
    """Spans of the matched words widened to their speech energy in `audio` (see module doc).

    `offset`: where `audio` starts in the words' time (a multitrack track's offset).
    Consecutive matched words become one span each; overlapping spans are merged.
    """
    if not indices:
        return []
    windows: list[tuple[float, float, int]] = []
    for i in sorted(set(indices)):
        w = words[i]
        lo = w.start - reach
        hi = w.end + reach
        if i > 0 and words[i - 1].speaker == w.speaker and (i - 1) not in indices:
            lo = max(lo, min(w.start, _middle(words[i - 1])))
        if i + 1 < len(words) and words[i + 1].speaker == w.speaker and (i + 1) not in indices:
            hi = min(hi, max(w.end, _middle(words[i + 1])))
        windows.append((max(lo, offset, 0.0), hi, i))
    reader = BlockReader(decode_blocks(audio, ANALYSIS_RATE, 1, ANALYSIS_RATE), 1)
    spans: list[BleepSpan] = []
    for lo, hi, i in sorted(windows):
        w = words[i]
        a = max(0, round((lo - offset) * ANALYSIS_RATE))
        b = max(a, round((hi - offset) * ANALYSIS_RATE))
        if a > reader.position:
            reader.skip(a - reader.position)
        start_in_window = reader.position
        samples = reader.peek(b - reader.position)[0] if b > reader.position else np.zeros(0, np.float32)
        core = _energy_run(samples, start_in_window, w, offset)
        s, e = (w.start, w.end) if core is None else core  # no energy found: trust the timing
        s, e = max(0.0, lo, s - pad), min(hi, e + pad)
        if duration is not None:
            e = min(e, duration)
        if e > s:
            spans.append(BleepSpan(round(s, 6), round(e, 6), i, w.text))
    return _merge(spans)


def _middle(w: Word) -> float:
    return (w.start + w.end) / 2


def _energy_run(samples: np.ndarray, first: int, word: Word, offset: float) -> tuple[float, float] | None:
    """(start, end) seconds of the speech-energy run of `word` inside the window, or None."""
    hop = round(_FRAME_SECONDS * ANALYSIS_RATE)
    n = samples.size // hop
    if n < 2:
        return None
    frames = samples[: n * hop].astype(np.float64).reshape(n, hop)
    db = 10.0 * np.log10(np.mean(frames * frames, axis=1) + 1e-12)
    t0 = first / ANALYSIS_RATE + offset  # words' time of frame 0
    times = t0 + np.arange(n) * _FRAME_SECONDS
    w_start = word.start
    w_end = min(word.end, word.start + _MAX_WORD_SECONDS)
    inside = (times + _FRAME_SECONDS > w_start) & (times < w_end)
    peak = float(db[inside].max()) if inside.any() else float(db.max())
    threshold = max(peak - _BELOW_PEAK_DB, float(db.min()) + _ABOVE_FLOOR_DB)
    loud = db >= threshold
    if not loud.any() or peak < -70.0:
        return None
    # seed: the loud frames inside the word's timing, else the loud frame nearest to it
    seeds = np.nonzero(loud & inside)[0]
    if seeds.size == 0:
        candidates = np.nonzero(loud)[0]
        centre = (w_start + w_end) / 2
        seeds = candidates[[int(np.argmin(np.abs(times[candidates] - centre)))]]
    lo, hi = int(seeds.min()), int(seeds.max())
    max_dip = max(1, round(_MAX_DIP_SECONDS / _FRAME_SECONDS))
    lo = _grow(loud, lo, -1, max_dip)
    hi = _grow(loud, hi, +1, max_dip)
    return float(times[lo]), float(times[hi] + _FRAME_SECONDS)


def _grow(loud: np.ndarray, at: int, step: int, max_dip: int) -> int:
    """Extend from frame `at` in direction `step` over loud frames and dips up to `max_dip`."""
    edge = at
    quiet = 0
    i = at + step
    while 0 <= i < loud.size:
        if loud[i]:
            edge, quiet = i, 0
        else:
            quiet += 1
            if quiet > max_dip:
                break
        i += step
    return edge


def _merge(spans: list[BleepSpan]) -> list[BleepSpan]:
    out: list[BleepSpan] = []
    for span in sorted(spans, key=lambda s: s.start):
        if out and span.start <= out[-1].end:
            last = out[-1]
            out[-1] = BleepSpan(last.start, max(last.end, span.end), last.word_index,
                                f"{last.text} {span.text}")
        else:
            out.append(span)
    return out


def bleep_blocks(
    blocks: Iterable[Block],
    spans: Sequence[BleepSpan],
    rate: int,
    mode: BleepMode = "beep",
    *,
    ramp_seconds: float = 0.005,
) -> Iterator[Block]:
    """Replace `spans` (source seconds) in a block stream; everything else passes as is."""
    if mode not in BLEEP_MODES:
        raise ValidationFailed(f"bleep_mode must be one of {', '.join(BLEEP_MODES)}")
    ranges = [(round(s.start * rate), round(s.end * rate)) for s in spans]
    ranges = [(a, b) for a, b in ranges if b > a]
    if not ranges:
        yield from blocks
        return
    amplitude = math.pow(10.0, TONE_DBFS / 20.0)
    ramp = max(1, round(ramp_seconds * rate))
    position = 0
    k = 0
    for block in blocks:
        n = block.shape[1]
        end = position + n
        while k < len(ranges) and ranges[k][1] <= position:
            k += 1
        j = k
        out = block
        while j < len(ranges) and ranges[j][0] < end:
            a, b = ranges[j]
            lo, hi = max(a, position), min(b, end)
            if out is block:
                out = block.copy()
            idx = np.arange(lo, hi, dtype=np.int64)
            local = (idx - a).astype(np.float64)
            r = min(ramp, (b - a) // 2) or 1
            fade_in = np.clip(np.minimum(local + 0.5, (b - idx) - 0.5) / r, 0.0, 1.0)
            replacement = (np.zeros(hi - lo) if mode == "mute"
                           else amplitude * np.sin(2.0 * np.pi * TONE_HZ * local / rate))
            original = out[:, lo - position : hi - position]
            out[:, lo - position : hi - position] = (
                original * (1.0 - fade_in) + replacement * fade_in
            ).astype(np.float32)
            j += 1
        yield out
        position = end


def bleep_transcript(transcript: Transcript, indices: Iterable[int]) -> Transcript:
    """The transcript with the given words (indices into `words()`) reading `[bleep]`."""
    wanted = set(indices)
    if not wanted:
        return transcript
    segments: list[Segment] = []
    k = 0
    for seg in transcript.segments:
        words: list[Word] = []
        changed = False
        for w in seg.words:
            if k in wanted:
                words.append(w.model_copy(update={"text": _bleeped(w.text)}))
                changed = True
            else:
                words.append(w)
            k += 1
        if changed:
            seg = seg.model_copy(update={"words": words, "text": " ".join(w.text for w in words)})
        segments.append(seg)
    return transcript.model_copy(update={"segments": segments})


def _bleeped(text: str) -> str:
    stripped = text.strip()
    m = re.match(r"^(\W*)(.*?)(\W*)$", stripped, re.UNICODE)
    lead, trail = (m.group(1), m.group(3)) if m else ("", "")
    return f"{lead}{BLEEP_TEXT}{trail}"
