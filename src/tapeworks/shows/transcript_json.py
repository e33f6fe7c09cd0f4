"""The Podcast Index transcript JSON format (``application/json`` in ``podcast:transcript``).

    {"version": "1.0.0",
     "segments": [{"speaker": "Anna", "startTime": 0.0, "endTime": 0.3, "body": "Hello"}, ...]}

One segment per word when the transcript has word timings (what players use to highlight
as the audio plays), else one per transcript segment. ``speaker`` is the name the user
gave (the speaker id when blank), as in the VTT voice tags; times are seconds of the audio
the transcript describes (episode time for an episode).
"""

from __future__ import annotations

import json
from typing import Any

from tapeworks.shows.notes import xml_safe
from tapeworks.transcripts.exporters import speaker_label
from tapeworks.transcripts.model import Transcript

TRANSCRIPT_JSON_VERSION = "1.0.0"
TRANSCRIPT_MEDIA_TYPES: dict[str, str] = {
    "vtt": "text/vtt",
    "srt": "application/x-subrip",
    "json": "application/json",
}


def _body(text: str) -> str:
    return " ".join(xml_safe(text).split())


def to_podcast_json(t: Transcript) -> bytes:
    segments: list[dict[str, Any]] = []
    for seg in t.segments:
        words = [w for w in seg.words if _body(w.text)]
        if words:
            for w in words:
                entry: dict[str, Any] = {
                    "startTime": round(w.start, 3),
                    "endTime": round(max(w.end, w.start), 3),
                    "body": _body(w.text),
                }
                label = speaker_label(t, w.speaker or seg.speaker)
                if label:
                    entry = {"speaker": label, **entry}
                segments.append(entry)
        elif _body(seg.text):
            entry = {
                "startTime": round(seg.start, 3),
                "endTime": round(max(seg.end, seg.start), 3),
                "body": _body(seg.text),
            }
            label = speaker_label(t, seg.speaker)
            if label:
                entry = {"speaker": label, **entry}
            segments.append(entry)
    doc = {"version": TRANSCRIPT_JSON_VERSION, "segments": segments}
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
