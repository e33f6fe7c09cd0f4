"""The edit list: ordered cuts that turn source time into episode time (DESIGN rule 12).

One `EditList` drives both the audio renderer and the re-timing of the words, so the
audio and the transcript can never drift apart. Times are seconds of source audio.

Episode time of a source instant `t` is `t` minus the total length of the cuts that
end at or before `t`; an instant inside a cut maps to the join point (the episode
time of the cut's start, which equals that of its end).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from tapeworks.errors import ValidationFailed

CutKind = Literal["filler", "pause", "user", "marker"]
CUT_KINDS: tuple[CutKind, ...] = ("filler", "pause", "user", "marker")
# When merging overlapping cuts of different kinds the merged cut takes the kind that
# explains it best for the user: an explicit user cut, a spoken edit marker (the speaker
# asked for it while recording), then a removed word, then a pause.
_KIND_PRIORITY: dict[str, int] = {"user": 0, "marker": 1, "filler": 2, "pause": 3}


@dataclass(frozen=True)
class Cut:
    """Remove source audio in [start, end) seconds.

    `id` is stable for the same transcript, audio and settings (`filler-12`: the filler
    cut starting at word 12; `pause-5230`: the pause after 5.230 s; `marker-40`: the
    phrase a spoken edit marker removes, starting at word 40; `user-...`); cuts
    merged into one carry their ids joined with `+`. A cut the audio check refused is
    listed in `EditList.kept` with `applied=False` and its reason; `planned` is the span
    asked for when the check trimmed the cut.
    """

    start: float
    end: float
    kind: CutKind
    reason: str = ""
    word_indices: tuple[int, ...] = ()
    id: str = ""
    applied: bool = True
    planned: tuple[float, float] | None = None

    @property
    def duration(self) -> float:
        return self.end - self.start

    @property
    def ids(self) -> tuple[str, ...]:
        """The ids of the cuts this one was merged from (itself when not merged)."""
        return tuple(i for i in self.id.split("+") if i)

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "id": self.id,
            "start": self.start,
            "end": self.end,
            "kind": self.kind,
            "reason": self.reason,
            "word_indices": list(self.word_indices),
            "applied": self.applied,
        }
        if self.planned is not None:
            out["planned"] = {"start": self.planned[0], "end": self.planned[1]}
        return out

    @classmethod
    def from_dict(cls, c: dict[str, Any]) -> Cut:
        planned = c.get("planned")
        return cls(
            start=float(c["start"]),
            end=float(c["end"]),
            kind=c["kind"],
            reason=str(c.get("reason", "")),
            word_indices=tuple(int(i) for i in c.get("word_indices", [])),
            id=str(c.get("id", "")),
            applied=bool(c.get("applied", True)),
            planned=(float(planned["start"]), float(planned["end"])) if planned else None,
        )


@dataclass(frozen=True)
class EditList:
    """Ordered, non-overlapping cuts inside [0, source_duration]; `kept` lists the
    automatic cuts the audio check refused (never applied, shown to the user)."""

    source_duration: float
    cuts: tuple[Cut, ...] = ()
    kept: tuple[Cut, ...] = ()
    _cut_starts: tuple[float, ...] = field(default=(), init=False, repr=False, compare=False)
    _removed_before: tuple[float, ...] = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.source_duration < 0:
            raise ValidationFailed("source duration must not be negative")
        previous_end = 0.0
        removed = [0.0]
        for cut in self.cuts:
            if cut.kind not in CUT_KINDS:
                raise ValidationFailed(f"unknown cut kind {cut.kind!r}")
            if not cut.end > cut.start:
                raise ValidationFailed(f"cut {cut.start}..{cut.end} is empty or reversed")
            if cut.start < previous_end or cut.end > self.source_duration + 1e-9:
                raise ValidationFailed(
                    f"cut {cut.start}..{cut.end} overlaps another cut or leaves the source"
                )
            previous_end = cut.end
            removed.append(removed[-1] + cut.duration)
        object.__setattr__(self, "_cut_starts", tuple(c.start for c in self.cuts))
        object.__setattr__(self, "_removed_before", tuple(removed))

    @classmethod
    def build(
        cls, source_duration: float, cuts: Iterable[Cut], join_gap: float = 0.0,
        kept: Iterable[Cut] = (),
    ) -> EditList:
        """Clamp cuts to the source, sort them and merge overlapping or nearly touching ones.

        Cuts separated by less than `join_gap` seconds of kept audio are merged too: a
        sliver of kept audio that short cannot hold a word and only adds a join.
        """
        return cls(source_duration, tuple(merge_cuts(cuts, source_duration, join_gap)),
                   tuple(sorted(kept, key=lambda c: (c.start, c.end))))

    @property
    def removed_duration(self) -> float:
        return self._removed_before[-1]

    @property
    def episode_duration(self) -> float:
        """Total duration after cuts."""
        return self.source_duration - self.removed_duration

    def source_to_episode(self, t: float) -> float:
        """Episode time of source instant `t`; inside a cut, the join point."""
        t = min(max(t, 0.0), self.source_duration)
        i = bisect.bisect_right(self._cut_starts, t) - 1  # last cut starting at or before t
        if i < 0:
            return t
        cut = self.cuts[i]
        if t < cut.end:
            return cut.start - self._removed_before[i]
        return t - self._removed_before[i + 1]

    def cut_at(self, t: float) -> Cut | None:
        """The cut containing source instant `t` (start inclusive, end exclusive)."""
        i = bisect.bisect_right(self._cut_starts, t) - 1
        if i >= 0 and t < self.cuts[i].end:
            return self.cuts[i]
        return None

    def kept_overlap(self, start: float, end: float) -> float:
        """Seconds of [start, end] that survive the cuts."""
        if end <= start:
            return 0.0
        return self.source_to_episode(end) - self.source_to_episode(start)

    def map_word(self, start: float, end: float) -> tuple[float, float] | None:
        """Episode (start, end) of a word, or None when the word is (mostly) inside a cut.

        A word loses its place when less than half of it survives; a zero-length word
        is dropped when it sits inside a cut. Ends inside a cut snap to the join.
        """
        if end < start:
            start, end = end, start
        if end - start <= 0.0:
            if self.cut_at(start) is not None:
                return None
            t = self.source_to_episode(start)
            return (t, t)
        if self.kept_overlap(start, end) < 0.5 * (end - start):
            return None
        return (self.source_to_episode(start), self.source_to_episode(end))

    def kept_ranges(self) -> list[tuple[float, float]]:
        """Source ranges that survive, in order; their concatenation is the episode."""
        ranges: list[tuple[float, float]] = []
        position = 0.0
        for cut in self.cuts:
            if cut.start > position:
                ranges.append((position, cut.start))
            position = cut.end
        if self.source_duration > position:
            ranges.append((position, self.source_duration))
        return ranges

    def summary(self) -> dict[str, dict[str, float]]:
        """Count and seconds removed per kind (every kind present, zero when unused)."""
        out: dict[str, dict[str, float]] = {k: {"count": 0, "seconds": 0.0} for k in CUT_KINDS}
        for cut in self.cuts:
            out[cut.kind]["count"] += 1
            out[cut.kind]["seconds"] += cut.duration
        for entry in out.values():
            entry["seconds"] = round(entry["seconds"], 6)
        return out

    def to_dict(self) -> dict[str, object]:
        return {
            "source_duration": self.source_duration,
            "episode_duration": self.episode_duration,
            "cuts": [c.to_dict() for c in self.cuts],
            "kept": [c.to_dict() for c in self.kept],
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> EditList:
        raw_cuts = data.get("cuts", [])
        raw_kept = data.get("kept", [])
        if not isinstance(raw_cuts, list) or not isinstance(raw_kept, list):
            raise ValidationFailed("edit list cuts must be a list")
        duration = data.get("source_duration")
        if not isinstance(duration, int | float):
            raise ValidationFailed("edit list needs a numeric source_duration")
        return cls(float(duration), tuple(Cut.from_dict(c) for c in raw_cuts),
                   tuple(replace(Cut.from_dict(c), applied=False) for c in raw_kept))


def merge_cuts(cuts: Iterable[Cut], source_duration: float, join_gap: float = 0.0) -> list[Cut]:
    """Clamp to [0, source_duration], sort, and merge overlapping or near-touching cuts."""
    clamped = [
        replace(c, start=max(0.0, c.start), end=min(source_duration, c.end))
        for c in cuts
    ]
    ordered = sorted((c for c in clamped if c.end > c.start), key=lambda c: (c.start, c.end))
    merged: list[Cut] = []
    for cut in ordered:
        if merged and cut.start <= merged[-1].end + join_gap:
            merged[-1] = _combine(merged[-1], cut)
        else:
            merged.append(cut)
    return merged


def _combine(a: Cut, b: Cut) -> Cut:
    kind = a.kind if _KIND_PRIORITY[a.kind] <= _KIND_PRIORITY[b.kind] else b.kind
    reasons = [r for r in (a.reason, b.reason) if r]
    return Cut(
        start=min(a.start, b.start),
        end=max(a.end, b.end),
        kind=kind,
        reason="; ".join(dict.fromkeys(reasons)),
        word_indices=tuple(sorted(set(a.word_indices) | set(b.word_indices))),
        id="+".join(dict.fromkeys(a.ids + b.ids)),
    )


def cuts_in_samples(edit_list: EditList, rate: int) -> list[tuple[int, int]]:
    """Cut boundaries as sample indices at `rate` (rounded), dropping cuts that vanish."""
    out: list[tuple[int, int]] = []
    for cut in edit_list.cuts:
        a, b = round(cut.start * rate), round(cut.end * rate)
        if b > a:
            out.append((a, b))
    return out


def with_boundaries(edit_list: EditList, boundaries: Sequence[tuple[float, float]]) -> EditList:
    """The same cuts with moved boundaries (e.g. snapped to zero crossings or to samples).

    A boundary moved past the end of the source (a cut reaching the end, rounded up to
    a whole sample) is clipped to it, and cuts that come to touch or overlap are merged:
    moving boundaries never makes an edit list invalid.
    """
    if len(boundaries) != len(edit_list.cuts):
        raise ValidationFailed("one boundary pair per cut is needed")
    cuts = [
        replace(c, start=s, end=e) for c, (s, e) in zip(edit_list.cuts, boundaries, strict=True)
    ]
    return EditList.build(edit_list.source_duration, cuts, kept=edit_list.kept)
