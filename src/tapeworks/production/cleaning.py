"""Build the edit list from the words: filler words, spoken edit markers, long pauses and
user cuts.

Pauses are the silences between "anchors": kept words, plus speech regions (from a
VAD) that are not removed words, so untranscribed speech is never cut as a pause.
A pause longer than `max_pause_seconds` (counted after the filler cuts inside it) is
shortened to exactly `target_pause_seconds`, half kept after the previous anchor and
half before the next. Leading and trailing silence keep half the target.
Every cut keeps `margin_seconds` away from kept words. A spoken edit marker
(`edit_marker`, production/markers.py) cuts itself and the phrase before it; the cut
has kind "marker", the reason "edit marker: "<the phrase>"" and the indices of the words
it removes.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Collection, Sequence
from dataclasses import replace

from tapeworks.audio.energy import subtract_spans
from tapeworks.errors import ValidationFailed
from tapeworks.production.editlist import Cut, CutKind, EditList, merge_cuts
from tapeworks.production.markers import MarkerEdit, marker_edits
from tapeworks.production.settings import CleaningSettings
from tapeworks.transcripts.model import Transcript, Word

Interval = tuple[float, float]
_PUNCT = re.compile(r"[^\w']+")
_MIN_CUT_SECONDS = 0.02  # shorter cuts are not worth a join
JOIN_GAP_SECONDS = 0.02  # kept slivers shorter than this between cuts are cut too


def normalise_word(text: str) -> str:
    return _PUNCT.sub("", text.lower()).strip("'")


def build_edit_list(
    transcript: Transcript,
    duration: float,
    speech_regions: Sequence[Interval] | None = None,
    settings: CleaningSettings | None = None,
) -> EditList:
    """The edit list the words alone ask for (production/verify.py checks it against the
    audio before anything is rendered)."""
    cuts = plan_cuts(transcript, duration, speech_regions, settings)
    return EditList.build(duration, cuts, join_gap=JOIN_GAP_SECONDS)


def plan_cuts(
    transcript: Transcript,
    duration: float,
    speech_regions: Sequence[Interval] | None = None,
    settings: CleaningSettings | None = None,
    keep_words: Collection[int] = (),
) -> list[Cut]:
    """Every cut the words ask for, each with its stable id, not yet merged.

    `keep_words` are indices of words to keep even if they are fillers (the audio check
    refused to cut them)."""
    settings = settings or CleaningSettings()
    settings.validate()
    words = transcript.words()
    removed = _removed_words(words, settings)
    for i in keep_words:
        if removed.get(i) == "filler":
            del removed[i]
    restored = set(settings.restored_cuts)
    cuts = _word_cuts(words, removed, duration, settings)
    if restored:  # the user restored these automatic cuts: their words stay
        back = {i for c in cuts if c.kind == "filler" and set(c.ids) & restored
                for i in c.word_indices if removed.get(i) == "filler"}
        if back:
            for i in back:
                del removed[i]
            cuts = _word_cuts(words, removed, duration, settings)
    markers = [e for e in marker_edit_list(words, settings, speech_regions, duration)
               if marker_cut(e).id not in restored]
    cuts += [marker_cut(e) for e in markers]
    cuts += [
        Cut(float(u.start), float(u.end), "user", u.reason,
            id=f"user-{_ms(float(u.start))}-{_ms(float(u.end))}")
        for u in settings.user_cuts
        if u.start is not None and u.end is not None
    ]
    if settings.shorten_pauses:
        gone: dict[int, CutKind] = {**removed, **{i: "marker" for e in markers for i in e.word_indices}}
        anchors = _anchors(words, gone, speech_regions or (), settings.margin_seconds)
        cuts += [c for c in _pause_cuts(anchors, merge_cuts(cuts, duration), duration, settings)
                 if c.id not in restored]
    return [c for c in cuts if c.kind in ("user", "marker") or c.duration >= _MIN_CUT_SECONDS]


def marker_edit_list(
    words: Sequence[Word],
    settings: CleaningSettings,
    speech_regions: Sequence[Interval] | None,
    duration: float,
) -> list[MarkerEdit]:
    """The edits the spoken markers ask for, without those whose marker is a protected word
    (a multitrack render mutes those on the speaker's own track instead)."""
    if settings.marker is None:
        return []
    edits = marker_edits(words, settings.marker, pause_seconds=settings.edit_marker_pause_seconds,
                         speech_regions=speech_regions, margin_seconds=settings.margin_seconds,
                         duration=duration)
    protected = set(settings.protected_words)
    return [e for e in edits if not protected.intersection(e.marker_indices)]


def marker_cut(edit: MarkerEdit) -> Cut:
    """The cut of one spoken marker: `marker-{first word}`, the phrase in its reason."""
    return Cut(edit.start, edit.end, "marker", edit.reason, tuple(edit.word_indices),
               id=f"marker-{min(edit.word_indices)}")


def _ms(t: float) -> int:
    return math.floor(t * 1000 + 0.5)


def filler_indices(words: Sequence[Word], settings: CleaningSettings) -> list[int]:
    """Indices of the words the settings remove as fillers."""
    return sorted(i for i, kind in _removed_words(words, settings).items() if kind == "filler")


def _removed_words(words: Sequence[Word], settings: CleaningSettings) -> dict[int, CutKind]:
    """Index -> kind for every word to remove."""
    removed: dict[int, CutKind] = {}
    tokens = [normalise_word(w.text) for w in words]
    if settings.remove_fillers:
        fillers = {normalise_word(f) for f in settings.filler_words}
        removed.update({i: "filler" for i, t in enumerate(tokens) if t and t in fillers})
    if settings.multiword_fillers:
        for i in _multiword_matches(tokens, settings.multiword_filler_phrases):
            removed[i] = "filler"
    for i in settings.protected_words:
        removed.pop(i, None)
    for u in settings.user_cuts:
        if u.first_word is None or u.last_word is None:
            continue
        if u.first_word < 0 or u.last_word >= len(words):
            raise ValidationFailed(
                f"user cut words {u.first_word}..{u.last_word} outside 0..{len(words) - 1}"
            )
        removed.update({i: "user" for i in range(u.first_word, u.last_word + 1)})
    return removed


def _multiword_matches(tokens: Sequence[str], phrases: Sequence[str]) -> set[int]:
    found: set[int] = set()
    for phrase in phrases:
        parts = [normalise_word(p) for p in phrase.split()]
        n = len(parts)
        if n < 2:
            continue
        for i in range(len(tokens) - n + 1):
            if tokens[i : i + n] == parts:
                found.update(range(i, i + n))
    return found


def _word_cuts(
    words: Sequence[Word], removed: dict[int, CutKind], duration: float, s: CleaningSettings
) -> list[Cut]:
    """One cut per run of removed words consecutive in time, padded but clear of kept words.

    Words are taken in time order (a merged multitrack transcript lists each track's
    segments, so its word list is not in time order); cuts name the original indices."""
    order = sorted(range(len(words)), key=lambda k: (words[k].start, k))
    if order == list(range(len(words))):
        return _ordered_word_cuts(words, removed, duration, s)
    by_time = [words[k] for k in order]
    position = {k: i for i, k in enumerate(order)}
    cuts = _ordered_word_cuts(by_time, {position[k]: v for k, v in removed.items()}, duration, s)
    out = []
    for c in cuts:
        indices = tuple(sorted(order[i] for i in c.word_indices))
        out.append(replace(c, word_indices=indices, id=_word_cut_id(c.kind, indices)))
    return out


def _word_cut_id(kind: str, indices: Sequence[int]) -> str:
    """`filler-12` (the filler cut starting at word 12), `user-w3-5` (words 3 to 5)."""
    return f"filler-{min(indices)}" if kind == "filler" else f"user-w{min(indices)}-{max(indices)}"


def _ordered_word_cuts(
    words: Sequence[Word], removed: dict[int, CutKind], duration: float, s: CleaningSettings
) -> list[Cut]:
    cuts: list[Cut] = []
    prev_kept_end: list[float | None] = []
    last: float | None = None
    for k, w in enumerate(words):
        prev_kept_end.append(last)
        if k not in removed:
            last = w.end if last is None else max(last, w.end)
    next_kept_start: list[float | None] = [None] * len(words)
    nxt: float | None = None
    for k in range(len(words) - 1, -1, -1):
        next_kept_start[k] = nxt
        if k not in removed:
            nxt = words[k].start if nxt is None else min(nxt, words[k].start)
    i = 0
    while i < len(words):
        if i not in removed:
            i += 1
            continue
        j = i
        while j + 1 < len(words) and (j + 1) in removed:
            j += 1
        prev_end, next_start = prev_kept_end[i], next_kept_start[j]
        start = min(w.start for w in words[i : j + 1]) - s.filler_pad_seconds
        end = max(w.end for w in words[i : j + 1]) + s.filler_pad_seconds
        if prev_end is not None:
            start = max(start, prev_end + s.margin_seconds)
        if next_start is not None:
            end = min(end, next_start - s.margin_seconds)
        start, end = max(0.0, start), min(duration, end)
        if end > start:
            kinds = {removed[k] for k in range(i, j + 1)}
            kind: CutKind = "user" if "user" in kinds else "filler"
            text = " ".join(words[k].text.strip() for k in range(i, j + 1))
            indices = tuple(range(i, j + 1))
            cuts.append(Cut(start, end, kind, f"{kind}: {text}", indices, id=_word_cut_id(kind, indices)))
        i = j + 1
    return cuts


def _anchors(
    words: Sequence[Word],
    removed: dict[int, CutKind],
    speech_regions: Sequence[Interval],
    margin: float,
) -> list[Interval]:
    """Sorted, merged spans that pauses must not eat: kept words and other speech."""
    kept = [(w.start, w.end) for i, w in enumerate(words) if i not in removed]
    gone = [(words[i].start - margin, words[i].end + margin) for i in removed]
    speech: list[Interval] = []
    for region in speech_regions:
        speech += subtract_spans(region, gone)
    spans = sorted(kept + speech)
    merged: list[list[float]] = []
    for a, b in spans:
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return [(a, b) for a, b in merged]


def _pause_cuts(
    anchors: Sequence[Interval], cuts: Sequence[Cut], duration: float, s: CleaningSettings
) -> list[Cut]:
    if not anchors:
        return []
    half = s.target_pause_seconds / 2
    gaps: list[tuple[float, float, float, float]] = []  # start, end, keep_before, keep_after
    gaps.append((0.0, anchors[0][0], 0.0, half))
    for (_, e), (st, _) in itertools.pairwise(anchors):
        gaps.append((e, st, half, half))
    gaps.append((anchors[-1][1], duration, half, 0.0))
    out: list[Cut] = []
    for g0, g1, keep_before, keep_after in gaps:
        if g1 <= g0:
            continue
        inside = _clip_cuts(cuts, g0, g1)
        kept = (g1 - g0) - sum(b - a for a, b in inside)
        if kept <= s.max_pause_seconds:
            continue
        c0 = _walk_forward(g0, keep_before, inside)
        c1 = _walk_backward(g1, keep_after, inside)
        if keep_before > 0:
            c0 = max(c0, g0 + s.margin_seconds)
        if keep_after > 0:
            c1 = min(c1, g1 - s.margin_seconds)
        if c1 > c0:
            reason = f"pause {kept:.2f}s -> {keep_before + keep_after:.2f}s"
            out.append(Cut(c0, c1, "pause", reason, id=f"pause-{_ms(g0)}"))
    return out


def _clip_cuts(cuts: Sequence[Cut], g0: float, g1: float) -> list[Interval]:
    return [(max(c.start, g0), min(c.end, g1)) for c in cuts if c.end > g0 and c.start < g1]


def _walk_forward(start: float, amount: float, holes: Sequence[Interval]) -> float:
    """The instant after `start` where `amount` seconds outside `holes` have passed."""
    t, left = start, amount
    for a, b in holes:
        if a - t >= left:
            break
        left -= max(0.0, a - t)
        t = max(t, b)
    return t + left


def _walk_backward(end: float, amount: float, holes: Sequence[Interval]) -> float:
    t, left = end, amount
    for a, b in reversed(holes):
        if t - b >= left:
            break
        left -= max(0.0, t - b)
        t = min(t, a)
    return t - left
