"""Export a transcript as json, txt, srt, vtt, docx, pdf or xlsx.

Notes (`tapeworks.transcripts.notes.ExportNote`) go into the formats that can hold them:
the JSON export gains a ``notes`` list, DOCX has the session's notes under the title and
each spanned note as a Word comment on the segment it covers, PDF has them in the margin
(`tapeworks.transcripts.pdf`) and XLSX in a Notes column and sheet.

Speaker labels are the names (and roles) stored in the transcript, i.e. the user's own
words; the only fallback is the speaker id. Nothing here is hard-coded English.

Subtitle cues (srt, vtt): a segment becomes one cue, or several when it is longer than
``MAX_CUE_SECONDS`` or ``MAX_CUE_CHARS``. It is split only at spaces of the segment text,
and the times at a split come from the word timings (the cue ends with its last word,
the next cue starts with its first word); the first cue starts at the segment start and
the last ends at the segment end. Segments without word timings are split with times
proportional to the characters.

What "round trip" means (and what the tests check):

* cue level, both formats: ``parse_srt(srt, speakers=names)`` and ``parse_vtt(vtt)``
  return exactly ``subtitle_cues(t)``: start and end to the millisecond, speaker name,
  text (whitespace-normalised);
* segment level, VTT: the first cue of a segment has the segment id as its cue
  identifier and continuation cues ``<id>#2``, ``#3``...; ``group_cues(parse_vtt(vtt))``
  gives one cue per segment with the segment's start, end (ms), speaker name and text.
* segment level, SRT: SRT has no cue ids, so this holds when no segment needed splitting
  (each SRT cue then is one segment). Every SRT cue carries the ``Name: `` prefix so each
  subtitle reads on its own.
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
from tapeworks.transcripts.labels import clean_text, format_clock, heading, speaker_label
from tapeworks.transcripts.model import Segment, Transcript
from tapeworks.transcripts.notes import ExportNote, place_notes
from tapeworks.transcripts.parsers import Cue
from tapeworks.transcripts.pdf import to_pdf
from tapeworks.transcripts.segmentation import join_words_with_spans
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
MAX_CUE_SECONDS = 7.0
MAX_CUE_CHARS = 84
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


def _ms(seconds: float) -> int:
    return max(0, round(seconds * 1000))


def format_timestamp(seconds: float, sep: str = ",") -> str:
    """``HH:MM:SS,mmm`` (SRT) or with ``sep="."`` ``HH:MM:SS.mmm`` (VTT)."""
    ms = _ms(seconds)
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


def _token_times(seg: Segment, tokens: list[str]) -> list[tuple[float, float]]:
    """Start/end of each space-separated token of the segment text."""
    words = seg.words
    joined, spans = join_words_with_spans(w.text for w in words)
    if words and joined == " ".join(tokens):
        times: list[tuple[float, float]] = []
        pos = 0
        for tok in tokens:
            lo, hi = pos, pos + len(tok)
            pos = hi + 1
            hits = [
                (w.start, w.end)
                for w, sp in zip(words, spans, strict=True)
                if sp is not None and sp[0] < hi and sp[1] > lo
            ]
            if not hits:
                break
            times.append((min(h[0] for h in hits), max(h[1] for h in hits)))
        if len(times) == len(tokens):
            return times
    # proportional to characters over the segment span
    total = sum(len(x) + 1 for x in tokens) or 1
    span = max(0.0, seg.end - seg.start)
    out, pos = [], 0
    for tok in tokens:
        a = seg.start + span * pos / total
        pos += len(tok) + 1
        out.append((a, seg.start + span * (pos - 1) / total))
    return out


def segment_cues(
    t: Transcript,
    seg: Segment,
    *,
    max_seconds: float = MAX_CUE_SECONDS,
    max_chars: int = MAX_CUE_CHARS,
) -> list[Cue]:
    text = clean_text(seg.text)
    speaker = speaker_label(t, seg.speaker)
    start, end = seg.start, max(seg.start, seg.end)
    if not text:
        return []
    tokens = text.split(" ")
    times = _token_times(seg, tokens)
    groups: list[list[int]] = [[]]
    for k, tok in enumerate(tokens):
        g = groups[-1]
        if g:
            g_start = start if len(groups) == 1 else times[g[0]][0]
            chars = sum(len(tokens[i]) + 1 for i in g) + len(tok)
            if chars > max_chars or times[k][1] - g_start > max_seconds:
                groups.append([])
        groups[-1].append(k)
    cues: list[Cue] = []
    for n, g in enumerate(groups):
        c_start = start if n == 0 else min(max(times[g[0]][0], cues[-1].end), end)
        c_end = end if n == len(groups) - 1 else min(max(times[g[-1]][1], c_start), end)
        cues.append(
            Cue(
                start=c_start,
                end=c_end,
                speaker=speaker,
                text=" ".join(tokens[i] for i in g),
                identifier=seg.id if n == 0 else f"{seg.id}#{n + 1}",
            )
        )
    return cues


def subtitle_cues(
    t: Transcript, *, max_seconds: float = MAX_CUE_SECONDS, max_chars: int = MAX_CUE_CHARS
) -> list[Cue]:
    """The cues the SRT and VTT exports contain, in order."""
    return [
        c
        for seg in t.segments
        for c in segment_cues(t, seg, max_seconds=max_seconds, max_chars=max_chars)
    ]


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
        body = f"{c.speaker}: {c.text}" if c.speaker else c.text
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
        body = _vtt_escape(c.text)
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
