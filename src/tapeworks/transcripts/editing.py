"""Edits to a transcript: pure functions, each returns a NEW transcript.

Every function leaves its input untouched (the previous version stays readable) and
returns a deep copy with ``version`` incremented by one. Bad edits raise the service's
error classes: an unknown segment or speaker id is `NotFound` naming it; an invalid
role, empty name, bad split index, non-adjacent merge, ... is `ValidationFailed`.

Rules worth knowing (they are part of the contract):

* ``edit_segment_text`` diffs the old words against the new text's tokens with difflib,
  comparing *normalised* tokens (NFKC, case-folded, surrounding punctuation removed).
  A word matched by the diff keeps its exact start, end, confidence and speaker; only
  its spelling is taken from the new text (so fixing case or punctuation does not move
  or re-score it). Replacement words are spread evenly over the replaced words' own span
  (so they do not spill into a pause around them); inserted words over the time between
  the surrounding kept words (segment start/end at the edges); new words get confidence 1.0 (typed by the user) and the
  segment's speaker. Deleted words vanish. Words inserted at the start or end of a
  segment may reach into the pause before/after it (at most ``EDGE_SECONDS_PER_WORD``
  each, never past the neighbouring segment, the start of the audio or
  ``Transcript.duration``). Every new word lasts at least ``MIN_NEW_WORD_SECONDS``: when
  the time it gets is shorter (an insertion between two touching words, a replaced word
  of no length) the kept words on either side give up the time, each at most half of
  its own length (the engine stretched them over the word it missed); that is the only
  case in which an unchanged word's timing moves.
* Empty (or whitespace-only) text **removes the segment** (its words are deleted too):
  an empty segment has no meaning in any export and would make an invalid subtitle cue.
* A segment's text is always derived from its words (`join_words`) when it has words;
  its start/end become the first word's start and the last word's end.
* ``merge_segments`` keeps the first segment's id and speaker; words keep their own
  speaker (merging is a layout change, not a reassignment: use ``reassign_segment``).
* ``split_segment`` keeps the id on the first part; the second part gets a new id
  ``seg-NNNN`` above every existing one. Ids are never renumbered, so ids held by a client
  stay valid across edits.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from tapeworks.errors import NotFound, ValidationFailed
from tapeworks.transcripts.model import SPEAKER_ROLES, Segment, Speaker, Transcript, Word
from tapeworks.transcripts.segmentation import join_words, normalise_space, segment_id

MAX_NAME_CHARS = 100
MAX_SEGMENT_TEXT_CHARS = 20_000
EDGE_SECONDS_PER_WORD = 0.4
MIN_NEW_WORD_SECONDS = 0.05

__all__ = [
    "EDIT_OPS",
    "add_speaker",
    "apply_edit",
    "apply_edits",
    "delete_segment",
    "edit_segment_text",
    "edit_word",
    "merge_segments",
    "reassign_segment",
    "split_segment",
    "update_speaker",
]


# ---------------------------------------------------------------- helpers


def _next_version(t: Transcript) -> Transcript:
    new = t.model_copy(deep=True)
    new.version = t.version + 1
    return new


def _segment_index(t: Transcript, segment_id_: str) -> int:
    for i, s in enumerate(t.segments):
        if s.id == segment_id_:
            return i
    raise NotFound(f"segment {segment_id_!r} not found", details={"segment_id": segment_id_})


def _speaker_index(t: Transcript, speaker_id: str) -> int:
    for i, sp in enumerate(t.speakers):
        if sp.id == speaker_id:
            return i
    raise NotFound(f"speaker {speaker_id!r} not found", details={"speaker_id": speaker_id})


def _check_role(role: str) -> str:
    if role not in SPEAKER_ROLES:
        raise ValidationFailed(
            f"invalid role {role!r}; allowed roles: {', '.join(SPEAKER_ROLES)}",
            details={"field": "role", "allowed": list(SPEAKER_ROLES)},
        )
    return role


def _check_name(name: Any) -> str:
    if not isinstance(name, str):
        raise ValidationFailed("speaker name must be a string", details={"field": "name"})
    clean = normalise_space("".join(ch for ch in name if unicodedata.category(ch) != "Cc"))
    if not clean:
        raise ValidationFailed("speaker name must not be empty", details={"field": "name"})
    if len(clean) > MAX_NAME_CHARS:
        raise ValidationFailed(
            f"speaker name is longer than {MAX_NAME_CHARS} characters", details={"field": "name"}
        )
    return clean


def _norm_token(token: str) -> str:
    """Comparison key for the diff: case and surrounding punctuation do not count."""
    t = unicodedata.normalize("NFKC", token).casefold()
    stripped = "".join(ch for ch in t if not unicodedata.category(ch).startswith(("P", "S"))) or t
    return stripped


def _refresh(seg: Segment) -> None:
    """Derive text/start/end of a segment from its words (when it has any)."""
    if seg.words:
        seg.text = join_words(w.text for w in seg.words)
        seg.start = seg.words[0].start
        seg.end = max(w.end for w in seg.words)


def _spread(texts: Sequence[str], lo: float, hi: float, speaker: str | None) -> list[Word]:
    n = len(texts)
    if hi < lo:
        hi = lo
    step = (hi - lo) / n if n else 0.0
    out: list[Word] = []
    for k, text in enumerate(texts):
        start = min(hi, lo + k * step)
        end = hi if k == n - 1 else min(hi, lo + (k + 1) * step)
        out.append(
            Word(text=text, start=start, end=max(start, end), confidence=1.0, speaker=speaker)
        )
    return out


# ---------------------------------------------------------------- speakers


def update_speaker(
    t: Transcript, speaker_id: str, *, name: str | None = None, role: str | None = None
) -> Transcript:
    """Rename and/or re-role a speaker. ``None`` leaves a field as it is; ``role=""``
    clears the role (unknown)."""
    i = _speaker_index(t, speaker_id)
    if name is None and role is None:
        raise ValidationFailed("nothing to change: give a name or a role")
    new = _next_version(t)
    sp = new.speakers[i]
    if name is not None:
        sp.name = _check_name(name)
    if role is not None:
        sp.role = None if role == "" else _check_role(role)  # type: ignore[assignment]
        sp.role_inferred = False  # the user said so
    return new


def add_speaker(t: Transcript, name: str, role: str | None = None) -> tuple[Transcript, Speaker]:
    """Add a speaker (id ``spk-N``, the first free N). Returns the new transcript and it."""
    clean = _check_name(name)
    checked_role = _check_role(role) if role not in (None, "") else None
    taken = {sp.id for sp in t.speakers}
    n = len(t.speakers) + 1
    while f"spk-{n}" in taken:
        n += 1
    speaker = Speaker(id=f"spk-{n}", name=clean, role=checked_role)
    new = _next_version(t)
    new.speakers.append(speaker)
    return new, speaker.model_copy()


def reassign_segment(t: Transcript, segment_id: str, speaker_id: str) -> Transcript:
    """Give a segment, and every word in it, to another (existing) speaker."""
    i = _segment_index(t, segment_id)
    _speaker_index(t, speaker_id)
    new = _next_version(t)
    seg = new.segments[i]
    seg.speaker = speaker_id
    for w in seg.words:
        w.speaker = speaker_id
    return new


# ---------------------------------------------------------------- segments


def edit_segment_text(t: Transcript, segment_id: str, new_text: str) -> Transcript:
    """Replace a segment's text, keeping the timings of unchanged words (see module doc)."""
    i = _segment_index(t, segment_id)
    if not isinstance(new_text, str):
        raise ValidationFailed("text must be a string", details={"field": "text"})
    if len(new_text) > MAX_SEGMENT_TEXT_CHARS:
        raise ValidationFailed(
            f"text is longer than {MAX_SEGMENT_TEXT_CHARS} characters", details={"field": "text"}
        )
    clean = "".join(ch for ch in new_text if unicodedata.category(ch) != "Cc" or ch.isspace())
    tokens = normalise_space(clean).split(" ") if clean.strip() else []
    new = _next_version(t)
    if not tokens:
        del new.segments[i]
        return new

    seg = new.segments[i]
    old = seg.words
    if not old:
        seg.words = _spread(tokens, seg.start, seg.end, seg.speaker)
        _refresh(seg)
        return new

    prev_limit = max(0.0, min(seg.start, new.segments[i - 1].end)) if i > 0 else 0.0
    if i + 1 < len(new.segments):
        next_limit = max(seg.end, new.segments[i + 1].start)
    elif new.duration is not None:
        next_limit = max(seg.end, new.duration)
    else:
        next_limit = float("inf")
    matcher = difflib.SequenceMatcher(
        a=[_norm_token(w.text) for w in old], b=[_norm_token(x) for x in tokens], autojunk=False
    )
    opcodes = matcher.get_opcodes()
    words: list[Word] = []
    moved: dict[int, Word] = {}  # kept words that gave time to a new word before them
    for k, (tag, i1, i2, j1, j2) in enumerate(opcodes):
        if tag == "equal":
            for a, b in zip(range(i1, i2), range(j1, j2), strict=True):
                kept = moved.get(a) or old[a].model_copy()
                kept.text = tokens[b]
                words.append(kept)
            continue
        if tag == "delete":
            continue
        # replace or insert: the time between the surrounding kept words
        prev_end = words[-1].end if words else seg.start
        next_start = seg.end
        has_next = False
        for tag2, a1, _a2, _b1, _b2 in opcodes[k + 1 :]:
            if tag2 == "equal":
                next_start = old[a1].start
                has_next = True
                break
        if tag == "replace":
            # the replaced words' own span, kept inside the neighbours' edges
            lo = min(max(old[i1].start, prev_end), next_start)
            hi = max(min(max(w.end for w in old[i1:i2]), next_start), lo)
        elif not words or not has_next:
            # insertion at a segment edge: may reach into the pause next to the segment
            # (the words were heard but not recognised), at most EDGE_SECONDS_PER_WORD
            # per word and never past the neighbouring segment.
            room = EDGE_SECONDS_PER_WORD * (j2 - j1)
            lo, hi = prev_end, next_start
            if not words:
                lo = min(seg.start, max(prev_limit, next_start - room))
            if not has_next:
                hi = max(seg.end, min(next_limit, prev_end + room))
            hi = max(hi, lo)
        else:
            lo, hi = prev_end, max(prev_end, next_start)
        before = words[-1] if words else None
        after = old[a1].model_copy() if has_next else None
        lo, hi = _make_room(
            lo, hi, j2 - j1, (min(lo, prev_end), max(hi, next_start)), before, after
        )
        if after is not None:
            moved[a1] = after
        words.extend(_spread(tokens[j1:j2], lo, hi, seg.speaker))
    seg.words = words
    _refresh(seg)
    return new


def _make_room(
    lo: float, hi: float, n: int, free: tuple[float, float], before: Word | None, after: Word | None
) -> tuple[float, float]:
    """[lo, hi] widened so `n` new words get MIN_NEW_WORD_SECONDS each: first into the
    free time around it (`free`: between the kept neighbours), then into the kept words
    `before` and `after` (changed in place), each giving at most half of its length."""
    need = n * MIN_NEW_WORD_SECONDS
    if hi - lo >= need - 1e-9:
        return lo, hi
    short = need - (hi - lo)
    lo = max(free[0], lo - short / 2)
    hi = min(free[1], lo + need) if hi < lo + need else hi
    lo = max(free[0], min(lo, hi - need))
    short = need - (hi - lo)
    if short <= 1e-9:
        return lo, hi
    room_before = (
        (before.end - before.start) / 2 if before is not None and before.end >= lo - 1e-9 else 0.0
    )
    room_after = (
        (after.end - after.start) / 2 if after is not None and after.start <= hi + 1e-9 else 0.0
    )
    take_before = max(0.0, min(room_before, max(short / 2, short - room_after)))
    take_after = max(0.0, min(room_after, short - take_before))
    if before is not None and take_before > 0:
        lo = min(lo, before.end) - take_before
        before.end = lo
    if after is not None and take_after > 0:
        hi = max(hi, after.start) + take_after
        after.start = hi
    return lo, hi
    room_before = (
        max(0.0, (before.end - before.start) / 2)
        if before is not None and before.end >= lo - 1e-9
        else 0.0
    )
    room_after = (
        max(0.0, (after.end - after.start) / 2)
        if after is not None and after.start <= hi + 1e-9
        else 0.0
    )
    take_before = min(room_before, max(short / 2, short - room_after))
    take_after = min(room_after, short - take_before)
    if before is not None and take_before > 0:
        lo = min(lo, before.end) - take_before
        before.end = lo
    if after is not None and take_after > 0:
        hi = max(hi, after.start) + take_after
        after.start = hi
    return lo, hi


def edit_word(t: Transcript, segment_id: str, word_index: int, new_text: str) -> Transcript:
    """Change one word (``word_index`` in the segment's words) and nothing else.

    One token keeps the word's exact timing, confidence and speaker (and the engine's own
    times); several tokens share the word's span evenly; empty text deletes the word, and
    a segment left without words is removed."""
    i = _segment_index(t, segment_id)
    seg = t.segments[i]
    if isinstance(word_index, bool) or not isinstance(word_index, int):
        raise ValidationFailed("word_index must be an integer", details={"field": "word_index"})
    if not 0 <= word_index < len(seg.words):
        raise ValidationFailed(
            f"segment {segment_id!r} has {len(seg.words)} words; word_index must be between 0 "
            f"and {len(seg.words) - 1}",
            details={"field": "word_index"},
        )
    if not isinstance(new_text, str) or len(new_text) > MAX_SEGMENT_TEXT_CHARS:
        raise ValidationFailed(
            "text must be a string of reasonable length", details={"field": "text"}
        )
    clean = "".join(ch for ch in new_text if unicodedata.category(ch) != "Cc" or ch.isspace())
    tokens = normalise_space(clean).split(" ") if clean.strip() else []
    new = _next_version(t)
    target = new.segments[i]
    old = target.words[word_index]
    if len(tokens) == 1:
        replacement = [old.model_copy(update={"text": tokens[0]})]
    elif tokens:
        before = target.words[word_index - 1] if word_index > 0 else None
        after = target.words[word_index + 1] if word_index + 1 < len(target.words) else None
        free = (
            min(old.start, before.end) if before else old.start,
            max(old.end, after.start) if after else old.end,
        )
        lo, hi = _make_room(old.start, old.end, len(tokens), free, before, after)
        replacement = _spread(tokens, lo, hi, old.speaker)
    else:
        replacement = []
    target.words[word_index : word_index + 1] = replacement
    if not target.words:
        del new.segments[i]
        return new
    _refresh(target)
    return new


def delete_segment(t: Transcript, segment_id: str) -> Transcript:
    """Remove a segment and its words."""
    i = _segment_index(t, segment_id)
    new = _next_version(t)
    del new.segments[i]
    return new


def merge_segments(t: Transcript, segment_ids: Sequence[str]) -> Transcript:
    """Merge two or more adjacent segments into the first one (its id and speaker)."""
    if isinstance(segment_ids, str) or len(segment_ids) < 2:
        raise ValidationFailed("give at least two segment ids to merge")
    if len(set(segment_ids)) != len(segment_ids):
        raise ValidationFailed("segment ids to merge must be distinct")
    idx = sorted(_segment_index(t, sid) for sid in segment_ids)
    if idx != list(range(idx[0], idx[0] + len(idx))):
        raise ValidationFailed(
            "only adjacent segments can be merged", details={"segment_ids": list(segment_ids)}
        )
    new = _next_version(t)
    parts = new.segments[idx[0] : idx[-1] + 1]
    first = parts[0]
    if all(p.words for p in parts):
        first.words = [w for p in parts for w in p.words]
        _refresh(first)
    else:
        first.words = [w for p in parts for w in p.words]
        first.text = join_words(p.text for p in parts)
        first.start = min(p.start for p in parts)
        first.end = max(p.end for p in parts)
    new.segments[idx[0] : idx[-1] + 1] = [first]
    return new


def _next_segment_id(t: Transcript) -> str:
    top = 0
    for s in t.segments:
        m = re.fullmatch(r"seg-(\d+)", s.id)
        if m:
            top = max(top, int(m.group(1)))
    taken = {s.id for s in t.segments}
    n = top + 1
    while segment_id(n) in taken:
        n += 1
    return segment_id(n)


def split_segment(t: Transcript, segment_id: str, at_word_index: int) -> Transcript:
    """Split a segment before word ``at_word_index`` (1 .. len(words)-1)."""
    i = _segment_index(t, segment_id)
    seg = t.segments[i]
    if isinstance(at_word_index, bool) or not isinstance(at_word_index, int):
        raise ValidationFailed(
            "at_word_index must be an integer", details={"field": "at_word_index"}
        )
    if not 1 <= at_word_index <= len(seg.words) - 1:
        raise ValidationFailed(
            f"at_word_index must be between 1 and {len(seg.words) - 1} for segment "
            f"{segment_id!r} ({len(seg.words)} words)",
            details={"field": "at_word_index"},
        )
    new = _next_version(t)
    first = new.segments[i]
    second = Segment(
        id=_next_segment_id(t),
        speaker=first.speaker,
        start=first.words[at_word_index].start,
        end=first.end,
        text="",
        words=first.words[at_word_index:],
    )
    first.words = first.words[:at_word_index]
    _refresh(first)
    _refresh(second)
    new.segments.insert(i + 1, second)
    return new


# ---------------------------------------------------------------- dispatcher


def _field(op: Mapping[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    if name not in op:
        raise ValidationFailed(f"missing field {name!r}", details={"field": name})
    value = op[name]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise ValidationFailed(f"field {name!r} has the wrong type", details={"field": name})
    return value


def _op_update_speaker(t: Transcript, op: Mapping[str, Any]) -> Transcript:
    sid = _field(op, "speaker_id", str)
    name = _field(op, "name", str) if "name" in op else None
    role = op.get("role", None)
    if "role" in op:
        if role is None:
            role = ""  # JSON null clears the role
        elif not isinstance(role, str):
            raise ValidationFailed("field 'role' has the wrong type", details={"field": "role"})
    return update_speaker(t, sid, name=name, role=role)


def _op_add_speaker(t: Transcript, op: Mapping[str, Any]) -> Transcript:
    role = op.get("role")
    if role is not None and not isinstance(role, str):
        raise ValidationFailed("field 'role' has the wrong type", details={"field": "role"})
    return add_speaker(t, _field(op, "name", str), role)[0]


EDIT_OPS: dict[
    str, tuple[frozenset[str], Callable[[Transcript, Mapping[str, Any]], Transcript]]
] = {
    "update_speaker": (frozenset({"speaker_id", "name", "role"}), _op_update_speaker),
    "add_speaker": (frozenset({"name", "role"}), _op_add_speaker),
    "reassign_segment": (
        frozenset({"segment_id", "speaker_id"}),
        lambda t, op: reassign_segment(
            t, _field(op, "segment_id", str), _field(op, "speaker_id", str)
        ),
    ),
    "edit_word": (
        frozenset({"segment_id", "word_index", "text"}),
        lambda t, op: edit_word(
            t, _field(op, "segment_id", str), _field(op, "word_index", int), _field(op, "text", str)
        ),
    ),
    "edit_text": (
        frozenset({"segment_id", "text"}),
        lambda t, op: edit_segment_text(t, _field(op, "segment_id", str), _field(op, "text", str)),
    ),
    "delete_segment": (
        frozenset({"segment_id"}),
        lambda t, op: delete_segment(t, _field(op, "segment_id", str)),
    ),
    "merge_segments": (
        frozenset({"segment_ids"}),
        lambda t, op: merge_segments(t, _str_list(_field(op, "segment_ids", list))),
    ),
    "split_segment": (
        frozenset({"segment_id", "at_word_index"}),
        lambda t, op: split_segment(
            t, _field(op, "segment_id", str), _field(op, "at_word_index", int)
        ),
    ),
}


def _str_list(values: list[Any]) -> list[str]:
    if not all(isinstance(v, str) for v in values):
        raise ValidationFailed("segment_ids must be strings", details={"field": "segment_ids"})
    return values


def apply_edit(t: Transcript, op: Mapping[str, Any]) -> Transcript:
    """Apply one API edit body, e.g. ``{"op": "edit_text", "segment_id": "seg-0003",
    "text": "..."}``. Ops: see `EDIT_OPS`; unknown ops and unknown fields are refused."""
    if not isinstance(op, Mapping):
        raise ValidationFailed("an edit must be an object with an 'op' field")
    name = op.get("op")
    if name not in EDIT_OPS:
        raise ValidationFailed(
            f"unknown edit op {name!r}; allowed ops: {', '.join(EDIT_OPS)}",
            details={"field": "op", "allowed": list(EDIT_OPS)},
        )
    fields, fn = EDIT_OPS[name]
    extra = sorted(set(op) - fields - {"op"})
    if extra:
        raise ValidationFailed(
            f"unknown field(s) for {name!r}: {', '.join(extra)}", details={"fields": extra}
        )
    return fn(t, op)


def apply_edits(t: Transcript, ops: Sequence[Mapping[str, Any]]) -> Transcript:
    """Apply several edits atomically (all or none) as ONE new version."""
    if not ops:
        raise ValidationFailed("no edits given")
    cur = t
    for op in ops:
        cur = apply_edit(cur, op)
    cur.version = t.version + 1
    return cur
