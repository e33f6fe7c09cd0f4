"""Export a transcript as json, txt, srt, vtt, docx, pdf or xlsx.

Notes (`tapeworks.transcripts.notes.ExportNote`) go into the formats that can hold them:
the JSON export gains a ``notes`` list, DOCX has the session's notes under the title and
each spanned note as a Word comment on the segment it covers, PDF has them in the margin
(`tapeworks.transcripts.pdf`) and XLSX in a Notes column and sheet.

Speaker labels are the names (and roles) stored in the transcript, i.e. the user's own
words; the only fallback is the speaker id. Nothing here is hard-coded English.

Subtitle cues (srt, vtt) follow broadcast rules (transcripts/cues.py): at most two lines
of 42 characters, at most 7 s, at least 0.8 s where the audio allows (a short cue is
merged with a neighbour of the same speaker or extended into the silence after it), no
cue across a speaker change. A segment is split only at spaces of its text, with times
from the word timings; the first cue of a segment starts at the segment start and the
last ends at its end (unless extended into silence). Every time is rounded once, half
up to the millisecond (`cues.to_ms`); headings show whole seconds rounded the same way,
as the page does.

What "round trip" means (and what the tests check):

* cue level, both formats: ``parse_srt(srt, speakers=names)`` and ``parse_vtt(vtt)``
  return exactly ``subtitle_cues(t)``: start and end to the millisecond, speaker name,
  text (lines joined by a space);
* VTT cue identifiers: the first cue of a segment has the segment id, continuation cues
  ``<id>#2``, ``#3``...; a short cue merged into the one before it leaves no id of its
  own, so ``group_cues(parse_vtt(vtt))`` gives one cue per segment whenever no cue was
  merged across segments. Every SRT cue carries the ``Name: `` prefix so each subtitle
  reads on its own.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from io import BytesIO
from urllib.parse import quote

from tapeworks.errors import ValidationFailed
from tapeworks.transcripts import cues
from tapeworks.transcripts.labels import clean_text, format_clock, heading, speaker_label
from tapeworks.transcripts.model import Segment, Transcript
from tapeworks.transcripts.notes import ExportNote, place_notes
from tapeworks.transcripts.parsers import Cue, srt_escape
from tapeworks.transcripts.pdf import to_pdf
from tapeworks.transcripts.xlsx import to_xlsx

EXPORT_FORMATS: tuple[str, ...] = ("json", "txt", "srt", "vtt", "docx", "pdf", "xlsx")
MEDIA_TYPES: dict[str, str] = {
    "json": "application/json",
    "txt": "text/plain; charset=utf-8",
    "srt": "application/x-subrip",
    "vtt": "text/vtt; charset=utf-8",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
MAX_CUE_SECONDS = cues.MAX_CUE_SECONDS
MAX_LINE_CHARS = cues.MAX_LINE_CHARS
MAX_CUE_LINES = cues.MAX_LINES
MIN_CUE_SECONDS = cues.MIN_CUE_SECONDS
MAX_FILENAME_STEM = 80
_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL"} | {
    f"{p}{i}" for p in ("COM", "LPT") for i in range(1, 10)
}


@dataclass(frozen=True)
class ExportResult:
    content: bytes
    media_type: str
    filename: str

    @property
    def content_disposition(self) -> str:
        """``attachment`` header value: ASCII fallback plus RFC 5987 UTF-8 name."""
        decomposed = unicodedata.normalize("NFKD", self.filename)
        ascii_name = decomposed.encode("ascii", "ignore").decode() or "transcript"
        if ascii_name.startswith("."):
            ascii_name = "transcript" + ascii_name
        return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(self.filename, safe='')}"


# ---------------------------------------------------------------- helpers


def format_timestamp(seconds: float, sep: str = ",") -> str:
    """``HH:MM:SS,mmm`` (SRT) or with ``sep="."`` ``HH:MM:SS.mmm`` (VTT), rounded half up."""
    ms = cues.to_ms(seconds)
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def safe_filename(title: str, ext: str) -> str:
    """A filename safe on every OS and in a header: unicode letters and digits kept,
    everything else (separators, quotes, dots, emoji, spaces) becomes ``-``."""
    stem = unicodedata.normalize("NFC", title or "")
    stem = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in stem)
    stem = re.sub(r"-{2,}", "-", stem).strip("-_")[:MAX_FILENAME_STEM].strip("-_")
    if not stem:
        stem = "transcript"
    if stem.upper() in _WINDOWS_RESERVED:
        stem = f"transcript-{stem}"
    return f"{stem}.{ext}"


# ---------------------------------------------------------------- cues


def subtitle_cues(t: Transcript) -> list[Cue]:
    """The cues the SRT and VTT exports contain, in order (rules: transcripts/cues.py)."""
    return cues.subtitle_cues(t, clean_text, speaker_label)


# ---------------------------------------------------------------- formats


TXT_TURN_GAP_SECONDS = 3.0


def to_txt(t: Transcript, title: str) -> str:
    """One paragraph per speaker turn: consecutive segments of the same speaker (less than
    `TXT_TURN_GAP_SECONDS` apart) share one "Name (role) [time]" heading."""
    lines: list[str] = []
    if clean_text(title):
        lines += [clean_text(title), ""]
    paragraph: list[str] = []
    previous: Segment | None = None
    for seg in t.segments:
        text = clean_text(seg.text)
        if not text:
            continue
        same_turn = (previous is not None and previous.speaker == seg.speaker
                     and seg.start - previous.end < TXT_TURN_GAP_SECONDS)
        if not same_turn:
            if paragraph:
                lines += [" ".join(paragraph), ""]
            lines.append(heading(t, seg))
            paragraph = []
        paragraph.append(text)
        previous = seg
    if paragraph:
        lines += [" ".join(paragraph), ""]
    return "\n".join(lines)


def to_srt(t: Transcript) -> str:
    out = []
    for n, c in enumerate(subtitle_cues(t), start=1):
        text = "\n".join(srt_escape(line) for line in (c.lines or (c.text,)))
        body = f"{srt_escape(c.speaker)}: {text}" if c.speaker else text
        out.append(f"{n}\n{format_timestamp(c.start)} --> {format_timestamp(c.end)}\n{body}\n")
    return "\n".join(out)


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_vtt(t: Transcript, title: str) -> str:
    out = ["WEBVTT", ""]
    for c in subtitle_cues(t):
        ident = c.identifier or ""
        if "-->" in ident or not ident.strip() or ident != ident.strip():
            ident = ""
        body = "\n".join(_vtt_escape(line) for line in (c.lines or (c.text,)))
        if c.speaker:
            body = f"<v {_vtt_escape(c.speaker)}>{body}</v>"
        block = f"{format_timestamp(c.start, '.')} --> {format_timestamp(c.end, '.')}\n{body}\n"
        out.append(f"{ident}\n{block}" if ident else block)
    return "\n".join(out)


def to_json(t: Transcript, notes: Sequence[ExportNote] = ()) -> bytes:
    """The transcript document; with notes, a ``notes`` list beside the segments."""
    if not notes:
        return t.model_dump_json(indent=2).encode("utf-8")
    doc = t.model_dump(mode="json")
    doc["notes"] = [n.as_json() for n in notes]
    return json.dumps(doc, indent=2, ensure_ascii=False).encode("utf-8")


def _note_label(note: ExportNote) -> str:
    if note.start is None:
        return ""
    if note.end is None or abs(note.end - note.start) < 0.5:
        return f"[{format_clock(note.start)}] "
    return f"[{format_clock(note.start)}–{format_clock(note.end)}] "


def to_docx(t: Transcript, title: str, notes: Sequence[ExportNote] = ()) -> bytes:
    from docx import Document  # imported lazily: only this format needs it

    doc = Document()
    clean_title = clean_text(title) or "transcript"
    doc.core_properties.title = clean_title[:255]
    doc.add_heading(clean_title, level=0)
    session_notes, by_segment = place_notes(t, notes)
    if session_notes:
        doc.add_heading("Notes", level=2)
        for note in session_notes:
            doc.add_paragraph(_note_label(note) + clean_text(note.text), style="List Bullet")
    for seg in t.segments:
        text = clean_text(seg.text)
        if not text:
            continue
        p = doc.add_paragraph()
        head = p.add_run(heading(t, seg))
        head.bold = True
        head.add_break()
        body = p.add_run(text)
        for note in by_segment.get(seg.id, []):
            doc.add_comment(body, text=_note_label(note) + clean_text(note.text),
                            author="tapeworks", initials="TW")
    buf = BytesIO()
    doc.save(buf)
    return buf.getvalue()


def _pdf(t: Transcript, title: str, notes: Sequence[ExportNote]) -> bytes:
    return to_pdf(t, title, notes)


def _xlsx(t: Transcript, title: str, notes: Sequence[ExportNote]) -> bytes:
    return to_xlsx(t, title, notes)


_RENDER: dict[str, Callable[[Transcript, str, Sequence[ExportNote]], bytes]] = {
    "json": lambda t, _title, notes: to_json(t, notes),
    "txt": lambda t, title, _notes: to_txt(t, title).encode("utf-8"),
    "srt": lambda t, _title, _notes: to_srt(t).encode("utf-8"),
    "vtt": lambda t, title, _notes: to_vtt(t, title).encode("utf-8"),
    "docx": to_docx,
    "pdf": _pdf,
    "xlsx": _xlsx,
}


def export(t: Transcript, fmt: str, *, title: str = "transcript",
           notes: Sequence[ExportNote] = ()) -> ExportResult:
    """Render ``t`` as ``fmt`` (one of `EXPORT_FORMATS`), with ``notes`` where the format
    can hold them (json, docx, pdf, xlsx)."""
    key = fmt.lower().strip() if isinstance(fmt, str) else fmt
    if key not in _RENDER:
        raise ValidationFailed(
            f"unknown export format {fmt!r}; allowed formats: {', '.join(EXPORT_FORMATS)}",
            details={"field": "format", "allowed": list(EXPORT_FORMATS)},
        )
    return ExportResult(
        content=_RENDER[key](t, title, notes),
        media_type=MEDIA_TYPES[key],
        filename=safe_filename(title, key),
    )
