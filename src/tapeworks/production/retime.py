"""Re-time a transcript with the edit list that cut the audio (DESIGN rule 12)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import TypeVar

from tapeworks.production.editlist import EditList
from tapeworks.transcripts.model import Segment, Transcript, Word

T = TypeVar("T")


def retime_transcript(transcript: Transcript, edit_list: EditList, offset: float = 0.0,
                      hidden: Collection[int] = ()) -> Transcript:
    """The transcript in episode time: words inside cuts dropped, the rest moved.

    `offset` is where the programme starts in the episode (after an intro). Segments
    keep their ids and speakers; a segment whose words were all cut is dropped, and a
    segment that lost words gets its text rebuilt from the words that remain. The
    version is kept: this is the same edit of the transcript, in another time base.
    `hidden` words (indices into `transcript.words()`) are dropped too although no cut
    names them (a multitrack render muted them on their own track).
    """
    removed = {i for cut in edit_list.cuts for i in cut.word_indices} | set(hidden)
    segments: list[Segment] = []
    index = 0
    for seg in transcript.segments:
        words: list[Word] = []
        for word in seg.words:
            i, index = index, index + 1
            mapped = None if i in removed else _mapped(edit_list, word)
            if mapped is not None:
                words.append(word.model_copy(update={"start": mapped[0] + offset, "end": mapped[1] + offset}))
        new_seg = _retimed_segment(seg, words, edit_list, offset)
        if new_seg is not None:
            segments.append(new_seg)
    return transcript.model_copy(
        update={"segments": segments, "duration": edit_list.episode_duration + offset}
    )


def _mapped(edit_list: EditList, word: Word) -> tuple[float, float] | None:
    """Episode times of a word that no cut removes by name.

    Only cuts that name their words (fillers, user cuts) remove words. A pause cut
    covering a word's timing was checked against the audio and found silent there, so the
    word's sound is elsewhere and survives: the word stays, at the join."""
    mapped = edit_list.map_word(word.start, word.end)
    if mapped is not None:
        return mapped
    lo, hi = min(word.start, word.end), max(word.start, word.end)
    covering = [c for c in edit_list.cuts if c.start <= hi and c.end >= lo]
    if covering and all(c.kind == "pause" for c in covering):
        return (edit_list.source_to_episode(lo), edit_list.source_to_episode(hi))
    return None


def _retimed_segment(
    seg: Segment, words: list[Word], edit_list: EditList, offset: float
) -> Segment | None:
    if not seg.words:
        mapped = edit_list.map_word(seg.start, seg.end)
        if mapped is None:
            return None
        return seg.model_copy(update={"start": mapped[0] + offset, "end": mapped[1] + offset})
    if not words:
        return None
    text = seg.text if len(words) == len(seg.words) else " ".join(w.text.strip() for w in words)
    return seg.model_copy(
        update={"start": words[0].start, "end": words[-1].end, "text": text, "words": words}
    )


def speech_intervals(transcript: Transcript, bridge_seconds: float = 0.3) -> list[tuple[float, float]]:
    """Where someone speaks, from the word timings: words closer than `bridge_seconds` join."""
    spans = sorted((w.start, w.end) for w in transcript.words() if w.end > w.start)
    out: list[tuple[float, float]] = []
    for a, b in spans:
        if out and a - out[-1][1] <= bridge_seconds:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


# --- points in episode time (chapters) across versions ------------------------------------------
def episode_to_source(edit: EditList, t: float) -> float:
    """Source time of episode instant ``t`` (no intro offset); at a join, the source time
    just after the cut, where the kept audio resumes."""
    t = max(0.0, t)
    elapsed = 0.0
    ranges = edit.kept_ranges()
    for lo, hi in ranges:
        length = hi - lo
        if t < elapsed + length:
            return lo + (t - elapsed)
        elapsed += length
    return ranges[-1][1] if ranges else 0.0


def retime_points(points: Sequence[tuple[float, T]], *, old_edit: EditList, old_offset: float,
                  new_edit: EditList, new_offset: float,
                  new_duration: float | None = None) -> list[tuple[float, T]]:
    """Points set in the episode time of one version (chapter starts), in the episode
    time of another version of the same episode: back to source time through the old
    edit list, forward through the new one. ``*_offset`` is where the conversation starts
    in each version (the intro's length).

    A cut before a point moves it earlier by the cut's length; a point inside a removed
    span moves to the cut point (the join); a restored span moves later points later. A
    point inside the old intro keeps its time when the new intro still reaches it and is
    dropped otherwise; one that lands on or after ``new_duration`` is dropped. Two that
    land on one instant (both inside one removed span) keep the later: what is heard from
    there on is the later one's part.
    """
    out: dict[float, T] = {}
    for start, payload in sorted(points, key=lambda p: p[0]):
        if start < old_offset:
            if start >= new_offset:
                continue  # the intro it marked is shorter now (or gone)
            moved = start
        else:
            source = episode_to_source(old_edit, start - old_offset)
            moved = new_offset + new_edit.source_to_episode(source)
        moved = round(moved, 3)
        if new_duration is not None and moved >= new_duration:
            continue
        out[moved] = payload
    return sorted(out.items(), key=lambda p: p[0])
