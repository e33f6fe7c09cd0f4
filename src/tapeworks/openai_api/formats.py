"""Our transcript in the response formats of OpenAI's `/v1/audio/transcriptions`.

Formats (`response_format`), as OpenAI's whisper-1 answers them and the official `openai`
client parses them:

* ``json``: ``{"text", "usage": {"type": "duration", "seconds"}}``;
* ``text``: the text, one line;
* ``srt`` / ``vtt``: subtitles from the same cues as our own exports, without speaker
  labels (OpenAI's files have none; the speakers are in ``verbose_json``);
* ``verbose_json``: ``{"task", "language", "duration", "text", "segments", "usage"}`` and
  ``words`` when ``timestamp_granularities[]`` asks for ``word``. ``language`` is Whisper's
  name (``"english"``). Segment fields we do not have from every engine are derived the way
  Whisper defines them: ``avg_logprob`` is the mean log of the word confidences,
  ``compression_ratio`` the zlib ratio of the text, ``seek`` the start in 10 ms frames;
  ``tokens`` is empty. Our speakers are added as extra fields: ``speaker`` on segments and
  words, and ``speakers`` (``id``, ``name``, ``role``) at the top;
* ``diarized_json``: OpenAI's diarized shape, a segment per speaker turn labelled with the
  speaker's name.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from tapeworks.openai_api.languages import language_name
from tapeworks.transcripts.exporters import format_timestamp, subtitle_cues
from tapeworks.transcripts.labels import speaker_label
from tapeworks.transcripts.model import Segment, Transcript

RESPONSE_FORMATS: tuple[str, ...] = ("json", "text", "srt", "verbose_json", "vtt", "diarized_json")
TIMESTAMP_GRANULARITIES: tuple[str, ...] = ("word", "segment")
MEDIA_TYPES: dict[str, str] = {
    "json": "application/json",
    "verbose_json": "application/json",
    "diarized_json": "application/json",
    "text": "text/plain; charset=utf-8",
    "srt": "application/x-subrip; charset=utf-8",
    "vtt": "text/vtt; charset=utf-8",
}


@dataclass(frozen=True)
class Rendered:
    """A JSON document (`data`) or a text body (`text`), and its media type."""

    media_type: str
    data: dict[str, Any] | None = None
    text: str | None = None


def _duration(t: Transcript) -> float:
    if t.duration is not None:
        return round(float(t.duration), 3)
    return round(max((s.end for s in t.segments), default=0.0), 3)


def _usage(t: Transcript) -> dict[str, Any]:
    return {"type": "duration", "seconds": math.ceil(_duration(t))}


def _text(t: Transcript) -> str:
    return t.text()


def _avg_logprob(seg: Segment) -> float:
    if not seg.words:
        return 0.0
    return round(sum(math.log(min(1.0, max(w.confidence, 1e-6))) for w in seg.words)
                 / len(seg.words), 6)


def _compression_ratio(text: str) -> float:
    raw = text.encode("utf-8")
    if not raw:
        return 0.0
    return round(len(raw) / len(zlib.compress(raw)), 6)


def to_json(t: Transcript) -> dict[str, Any]:
    return {"text": _text(t), "usage": _usage(t)}


def to_verbose_json(t: Transcript, *, words: bool) -> dict[str, Any]:
    segments: list[dict[str, Any]] = [
        {
            "id": n,
            "seek": round(seg.start * 100),
            "start": round(seg.start, 3),
            "end": round(seg.end, 3),
            "text": seg.text,
            "tokens": [],
            "temperature": 0.0,
            "avg_logprob": _avg_logprob(seg),
            "compression_ratio": _compression_ratio(seg.text),
            "no_speech_prob": 0.0,
            "speaker": seg.speaker,
        }
        for n, seg in enumerate(t.segments)
    ]
    doc: dict[str, Any] = {
        "task": "transcribe",
        "language": language_name(t.language),
        "duration": _duration(t),
        "text": _text(t),
        "segments": segments,
        "usage": _usage(t),
        "speakers": [{"id": s.id, "name": s.name, "role": s.role} for s in t.speakers],
    }
    if words:
        doc["words"] = [
            {"word": w.text.strip(), "start": round(w.start, 3), "end": round(w.end, 3),
             "speaker": w.speaker}
            for w in t.words()
        ]
    return doc


def to_diarized_json(t: Transcript) -> dict[str, Any]:
    return {
        "task": "transcribe",
        "duration": _duration(t),
        "text": _text(t),
        "segments": [
            {"type": "transcript.text.segment", "id": seg.id, "start": round(seg.start, 3),
             "end": round(seg.end, 3), "text": seg.text,
             "speaker": speaker_label(t, seg.speaker) or "A"}
            for seg in t.segments if seg.text.strip()
        ],
        "usage": _usage(t),
    }


def to_srt(t: Transcript) -> str:
    blocks = [
        f"{n}\n{format_timestamp(c.start)} --> {format_timestamp(c.end)}\n{c.text}\n"
        for n, c in enumerate(subtitle_cues(t), start=1)
    ]
    return "\n".join(blocks)


def to_vtt(t: Transcript) -> str:
    blocks = ["WEBVTT\n"] + [
        f"{format_timestamp(c.start, '.')} --> {format_timestamp(c.end, '.')}\n{c.text}\n"
        for c in subtitle_cues(t)
    ]
    return "\n".join(blocks)


def render(t: Transcript, response_format: str, *,
           granularities: Collection[str] = ("segment",)) -> Rendered:
    """`t` in one of `RESPONSE_FORMATS` (already validated by the caller)."""
    media = MEDIA_TYPES[response_format]
    if response_format == "json":
        return Rendered(media, data=to_json(t))
    if response_format == "verbose_json":
        return Rendered(media, data=to_verbose_json(t, words="word" in granularities))
    if response_format == "diarized_json":
        return Rendered(media, data=to_diarized_json(t))
    if response_format == "text":
        return Rendered(media, text=_text(t) + "\n")
    if response_format == "srt":
        return Rendered(media, text=to_srt(t))
    if response_format == "vtt":
        return Rendered(media, text=to_vtt(t))
    raise ValueError(f"unknown response format {response_format!r}")
