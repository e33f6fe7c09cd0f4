"""Spoken edit markers: say "flubber" after a mistake and the mistake is cut.

Where the marker word is spoken, the marker and the phrase before it are cut. The
phrase reaches back to the previous pause of at least `pause_seconds` or the start of
the sentence, whichever comes first, and never across a change of speaker. A
sentence end right before the marker ("...in 1990. Flubber.") does not end the phrase:
the marker is an interjection and Whisper often puts a full stop before it.

Matching is tolerant, because a speech engine writes a made-up word as it hears it
(Whisper base writes a spoken "flubber" as "Flummer", "Flurber" or "Flueber"; with the
marker in its hotwords it writes "flubber"). A word matches when its *sound key*
equals the marker's, or when it is one letter-edit-in-seven close with the same first
and last letter. The sound key keeps the first letter, drops vowels, an "r" before a
consonant (non-rhotic speech) and doubled letters, and folds consonants that sound
alike into one class (b/p/m, t/d, k/g/c/q, f/v/ph, s/z). "flummer" and "flurber" key
like "flubber" (f-l-B-r), "flutter", "flower", "rubber" and "flubbed" do not. A marker
split over two words ("flub ber") is matched by joining neighbours.

Cut boundaries: from just before the phrase's first word (reaching at most 0.15 s and
half the pause into the pause before it, never nearer than `margin_seconds` to the
previous word) to `margin_seconds` before the next word after the marker, so the pause
before the phrase is (nearly all of) the pause that remains. These cuts are intentional (the speaker asked for them): they are
not trimmed by the audio check of automatic cuts, but they never split a word.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from rapidfuzz.distance import Levenshtein

from tapeworks.transcripts.model import Word

DEFAULT_EDIT_MARKER = "flubber"
DEFAULT_PAUSE_SECONDS = 0.4
REASON = "edit marker"

_SENTENCE_END = re.compile(r"[.!?…]['\")\]]*$")
_LETTERS = re.compile(r"[^a-z0-9]+")  # digits stay: "1990 flubber" is not the marker
_CLASSES = {
    "b": "B", "p": "B", "m": "B",
    "t": "T", "d": "T",
    "k": "K", "g": "K", "c": "K", "q": "K",
    "f": "F", "v": "F",
    "s": "S", "z": "S",
}
_VOWELS = set("aeiouy")
_REACH_SECONDS = 0.15  # how far a cut may reach into the pause before the phrase
_MAX_SPLIT = 2  # a marker may come out as up to this many more words than it has


def _letters(text: str) -> str:
    return _LETTERS.sub("", text.lower())


def sound_key(word: str) -> str:
    """First letter, then consonant classes with vowels, pre-consonant r and doubles dropped."""
    w = _letters(word).replace("ph", "f").replace("ck", "k")
    if not w:
        return ""
    out = [w[0]]
    for i, ch in enumerate(w[1:], start=1):
        if ch in _VOWELS or ch == "h" or ch == "w":
            continue
        if ch == "r" and i + 1 < len(w) and w[i + 1] not in _VOWELS:
            continue  # "flurber" -> "flubber": an r before a consonant is hardly heard
        cls = _CLASSES.get(ch, ch)
        if cls != out[-1] and not (len(out) == 1 and _CLASSES.get(out[0], out[0]) == cls):
            out.append(cls)
    return "".join(out)


def sounds_like(candidate: str, marker: str, *, joined: bool = False) -> bool:
    """Whether `candidate` is the marker as an engine heard it. `joined`: the candidate is
    several words run together, which must then be close in spelling, not only in sound."""
    a, b = _letters(candidate), _letters(marker)
    if not a or not b:
        return False
    if a == b:
        return True
    close = (Levenshtein.normalized_similarity(a, b) >= 0.8 and len(b) >= 5
             and a[0] == b[0] and a[-1] == b[-1])
    if joined:
        return close
    if len(b) >= 4 and abs(len(a) - len(b)) <= 3 and sound_key(a) == sound_key(b):
        return True
    return close


@dataclass(frozen=True)
class MarkerEdit:
    """One spoken marker and what it removes: `word_indices` (the phrase and the marker),
    indices into the word list given; times are source seconds."""

    start: float
    end: float
    word_indices: tuple[int, ...]
    marker_indices: tuple[int, ...]
    removed_text: str  # the phrase before the marker, as transcribed
    marker_text: str
    crosstalk_indices: tuple[int, ...] = ()  # other speakers' words inside [start, end)

    @property
    def reason(self) -> str:
        said = f': "{self.removed_text}"' if self.removed_text else ""
        return f"{REASON}{said}"


def find_markers(words: Sequence[Word], marker: str) -> list[tuple[int, int]]:
    """(first, last) word index of each spoken marker, in order, never overlapping."""
    n = len(marker.split())
    if n == 0:
        return []
    found: list[tuple[int, int]] = []
    letters = [_letters(w.text) for w in words]
    first = _letters(marker)[:1]
    i = 0
    while i < len(words):
        match = None
        if letters[i] and not _may_start(letters[i], first):
            i += 1  # every way of matching needs the marker's first letter (or "ph")
            continue
        for span in range(n, n + _MAX_SPLIT + 1):
            j = i + span - 1
            if j >= len(words) or words[j].speaker != words[i].speaker:
                break
            candidate = "".join(letters[i : j + 1])
            if sounds_like(candidate, marker, joined=span > n):
                match = (i, j)
                break
        if match is None:
            i += 1
            continue
        found.append(match)
        i = match[1] + 1
    return found


def _may_start(letters: str, first: str) -> bool:
    return letters[0] == first or letters.startswith("ph") or first == "p"


def silence_between(
    before: Word, after: Word, speech_regions: Sequence[tuple[float, float]] | None
) -> float:
    """The pause between two words: the word-timing gap, or the longest stretch without
    speech by the detector between their middles when that is longer (engines stretch
    words over silence, which hides pauses)."""
    gap = max(0.0, after.start - before.end)
    if not speech_regions:
        return gap
    lo = (before.start + before.end) / 2
    hi = (after.start + after.end) / 2
    if hi <= lo:
        return gap
    t, longest = lo, 0.0
    for a, b in speech_regions:
        if b <= lo:
            continue
        if a >= hi:
            break
        longest = max(longest, min(a, hi) - t)
        t = max(t, b)
    longest = max(longest, hi - t)
    return max(gap, longest)


def marker_edits(
    words: Sequence[Word],
    marker: str | None = DEFAULT_EDIT_MARKER,
    *,
    pause_seconds: float = DEFAULT_PAUSE_SECONDS,
    speech_regions: Sequence[tuple[float, float]] | None = None,
    margin_seconds: float = 0.03,
    duration: float | None = None,
) -> list[MarkerEdit]:
    """The cuts the spoken markers ask for, ordered by time (see the module doc).

    Words may come from several speakers in one list (a merged multitrack transcript):
    a phrase is made of the marker speaker's own words; another speaker's word said in
    a gap between them ends the phrase (it is a turn), one said over them does not and
    is listed in `crosstalk_indices` (a multitrack render mutes instead of cutting then).
    """
    if not marker or not marker.strip():
        return []
    regions = sorted(speech_regions or ())
    edits: list[MarkerEdit] = []
    speakers = list(dict.fromkeys(w.speaker for w in words))
    for speaker in speakers:
        own = [i for i, w in enumerate(words) if w.speaker == speaker]
        others = [i for i, w in enumerate(words) if w.speaker != speaker]
        own_words = [words[i] for i in own]
        floor = 0  # a phrase never reaches back into an earlier edit
        own_edits: list[MarkerEdit] = []
        for first, last in find_markers(own_words, marker.strip()):
            k = first  # the phrase is own_words[k:first]
            if first - 1 >= floor:
                k = first - 1
                while k - 1 >= floor:
                    prev, cur = own_words[k - 1], own_words[k]
                    if _SENTENCE_END.search(prev.text.strip()):
                        break
                    if silence_between(prev, cur, regions) >= pause_seconds:
                        break
                    if any(prev.end <= words[o].start and words[o].end <= cur.start for o in others):
                        break  # someone else spoke in between: a turn
                    k -= 1
            edit = _edit(words, own, others, own_words, k, first, last, margin_seconds, duration)
            if edit is not None and own_edits and edit.start < own_edits[-1].end:
                edit = replace(edit, start=own_edits[-1].end)
            if edit is not None and edit.end > edit.start:
                own_edits.append(edit)
            floor = last + 1
        edits += own_edits
    return sorted(edits, key=lambda e: e.start)


def _edit(
    words: Sequence[Word],
    own: Sequence[int],
    others: Sequence[int],
    own_words: Sequence[Word],
    k: int,
    first: int,
    last: int,
    margin: float,
    duration: float | None,
) -> MarkerEdit | None:
    start_word, end_word = own_words[k], own_words[last]
    before = [own_words[k - 1].end] if k > 0 else []
    before += [words[o].end for o in others if words[o].end <= start_word.start]
    after = [own_words[last + 1].start] if last + 1 < len(own_words) else []
    after += [words[o].start for o in others if words[o].start >= end_word.end]
    if before:
        prev_end = max(before)
        gap = max(0.0, start_word.start - prev_end)
        start = max(min(prev_end + margin, start_word.start), start_word.start - min(_REACH_SECONDS, gap / 2))
    else:
        start = max(0.0, start_word.start - _REACH_SECONDS)
    if after:
        end = max(end_word.end, min(after) - margin)
    else:
        end = end_word.end + _REACH_SECONDS
    if duration is not None:
        end = min(end, duration)
    if end <= start:
        return None
    crosstalk = tuple(o for o in others if words[o].end > start and words[o].start < end)
    return MarkerEdit(
        start=start,
        end=end,
        word_indices=tuple(own[i] for i in range(k, last + 1)),
        marker_indices=tuple(own[i] for i in range(first, last + 1)),
        removed_text=" ".join(own_words[i].text.strip() for i in range(k, first)),
        marker_text=" ".join(own_words[i].text.strip() for i in range(first, last + 1)),
        crosstalk_indices=crosstalk,
    )


def with_marker_hotword(hotwords: str | None, marker: str | None) -> str | None:
    """The hotwords for an upload with the marker added once (Whisper then writes it right)."""
    parts = [p for p in (hotwords or "").split() if p]
    if marker and marker.strip():
        for m in marker.split():
            if m.lower() not in {p.lower() for p in parts}:
                parts.append(m)
    return " ".join(parts) or None
