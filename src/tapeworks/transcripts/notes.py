"""Notes as the exporters see them, and where each one goes in a transcript.

A note is on the session as a whole (no span) or on a span of the recording
(``start``/``end`` in recording time, seconds). Spans are in recording time, not tied to
segment ids or word positions, so they stay where they were when the text is corrected,
segments are split or merged, or speakers are renamed. A highlight is a note with a span
and a colour. The notes domain turns its rows into `ExportNote`; this module knows nothing
of the database.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from tapeworks.transcripts.model import Segment, Transcript

DEFAULT_HIGHLIGHT = "#ffe066"
_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")


@dataclass(frozen=True)
class ExportNote:
    text: str
    start: float | None = None
    end: float | None = None
    colour: str | None = None  # "#rrggbb"; a note with a colour is a highlight
    id: str | None = None

    def as_json(self) -> dict[str, object]:
        return {"id": self.id, "text": self.text, "start": self.start, "end": self.end,
                "colour": self.colour}

    @property
    def on_session(self) -> bool:
        return self.start is None

    def rgb(self) -> tuple[int, int, int]:
        colour = self.colour if self.colour and _HEX.match(self.colour) else DEFAULT_HIGHLIGHT
        return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)

    def covers(self, seg: Segment) -> bool:
        """Whether the span overlaps the segment (a zero-length span touching it counts)."""
        if self.start is None:
            return False
        end = self.end if self.end is not None else self.start
        return self.start <= seg.end and end >= seg.start


def place_notes(
    t: Transcript, notes: Sequence[ExportNote]
) -> tuple[list[ExportNote], dict[str, list[ExportNote]]]:
    """Session notes, and the spanned notes keyed by the segment each is shown beside:
    the first segment it overlaps, else the next segment after it, else the last one.
    Every note is placed exactly once (none is lost when its words were deleted)."""
    on_session = [n for n in notes if n.on_session]
    by_segment: dict[str, list[ExportNote]] = {}
    segments = [s for s in t.segments if s.text.strip()]
    spanned = sorted((n for n in notes if not n.on_session), key=lambda n: (n.start, n.end))
    for note in spanned:
        if not segments:
            on_session.append(note)
            continue
        assert note.start is not None
        target = next((s for s in segments if note.covers(s)), None)
        if target is None:
            target = next((s for s in segments if s.start >= note.start), segments[-1])
        by_segment.setdefault(target.id, []).append(note)
    return on_session, by_segment


def notes_for_segment(seg: Segment, notes: Sequence[ExportNote]) -> list[ExportNote]:
    """Every spanned note overlapping the segment (a note may cover several)."""
    return [n for n in notes if n.covers(seg)]
