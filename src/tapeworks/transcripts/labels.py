"""Labels every export writes the same way: clock times, speaker names, paragraph headings,
and text cleaned of control characters."""

from __future__ import annotations

import unicodedata

from tapeworks.transcripts.cues import round_seconds
from tapeworks.transcripts.model import Segment, Transcript
from tapeworks.transcripts.segmentation import normalise_space


def format_clock(seconds: float) -> str:
    """``HH:MM:SS`` (whole seconds, rounded half up as on the page) for headings."""
    total = round_seconds(seconds)
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    return f"{h:02d}:{m:02d}:{s:02d}"


def clean_text(text: str) -> str:
    """Drop control characters (invalid in XML and subtitle files), normalise spaces."""
    return normalise_space("".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in text))


def speaker_label(t: Transcript, speaker_id: str | None) -> str | None:
    """The speaker's name as the user wrote it; the id when the name is blank."""
    if speaker_id is None:
        return None
    sp = t.speaker(speaker_id)
    name = clean_text(sp.name) if sp else ""
    return name or clean_text(speaker_id) or None


def heading(t: Transcript, seg: Segment) -> str:
    label = speaker_label(t, seg.speaker)
    sp = t.speaker(seg.speaker) if seg.speaker else None
    parts = []
    if label:
        parts.append(label)
        if sp and sp.role:
            parts.append(f"({sp.role})")
    parts.append(f"[{format_clock(seg.start)}]")
    return " ".join(parts)
