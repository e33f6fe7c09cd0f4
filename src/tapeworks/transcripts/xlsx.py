"""XLSX of a transcript (openpyxl): one row per segment, times as real numbers.

Sheet "Transcript": segment id, start and end in seconds (numbers), start as a time of
day cell (``[h]:mm:ss``, a number Excel can add up), speaker, role, text, and the notes
that cover the segment. Sheet "Notes" (when there are notes): every note with its span.
Text cells are always written as text: a segment that starts with ``=`` is not a formula.
"""

from __future__ import annotations

from collections.abc import Sequence
from io import BytesIO
from typing import Any

from tapeworks.transcripts.cues import round_time
from tapeworks.transcripts.labels import clean_text, speaker_label
from tapeworks.transcripts.model import Transcript
from tapeworks.transcripts.notes import ExportNote, notes_for_segment

SECONDS_FORMAT = "0.000"
CLOCK_FORMAT = "[h]:mm:ss"


def text_cell(ws: Any, row: int, col: int, value: str | None) -> None:
    """A cell that holds ``value`` as text whatever it looks like (never a formula)."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    cell = ws.cell(row=row, column=col)
    if value is None:
        return
    cell.value = ILLEGAL_CHARACTERS_RE.sub("", value)
    cell.data_type = "s"


def header(ws: Any, names: Sequence[str], widths: Sequence[float]) -> None:
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    for col, (name, width) in enumerate(zip(names, widths, strict=True), start=1):
        text_cell(ws, 1, col, name)
        ws.cell(row=1, column=col).font = Font(bold=True)
        ws.column_dimensions[get_column_letter(col)].width = width
    ws.freeze_panes = "A2"


def number_cell(ws: Any, row: int, col: int, value: float | int | None, fmt: str) -> None:
    if value is None:
        return
    cell = ws.cell(row=row, column=col, value=value)
    cell.number_format = fmt


def to_xlsx(t: Transcript, title: str, notes: Sequence[ExportNote] = ()) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment

    wb = Workbook()
    ws = wb.active
    ws.title = "Transcript"
    wb.properties.title = (clean_text(title) or "transcript")[:255]
    wb.properties.creator = "tapeworks"
    header(ws, ["Segment", "Start (s)", "End (s)", "Time", "Speaker", "Role", "Text", "Notes"],
           [10, 10, 10, 10, 20, 10, 80, 40])
    spanned = [n for n in notes if not n.on_session]
    row = 1
    for seg in t.segments:
        text = clean_text(seg.text)
        if not text:
            continue
        row += 1
        sp = t.speaker(seg.speaker) if seg.speaker else None
        text_cell(ws, row, 1, seg.id)
        number_cell(ws, row, 2, round_time(seg.start), SECONDS_FORMAT)
        number_cell(ws, row, 3, round_time(seg.end), SECONDS_FORMAT)
        number_cell(ws, row, 4, seg.start / 86400.0, CLOCK_FORMAT)
        text_cell(ws, row, 5, speaker_label(t, seg.speaker))
        text_cell(ws, row, 6, sp.role if sp and sp.role else None)
        text_cell(ws, row, 7, text)
        ws.cell(row=row, column=7).alignment = Alignment(wrap_text=True, vertical="top")
        covering = notes_for_segment(seg, spanned)
        if covering:
            text_cell(ws, row, 8, "\n".join(clean_text(n.text) for n in covering))
            ws.cell(row=row, column=8).alignment = Alignment(wrap_text=True, vertical="top")
    if row > 1:
        ws.auto_filter.ref = f"A1:H{row}"

    if notes:
        ns = wb.create_sheet("Notes")
        header(ns, ["Start (s)", "End (s)", "Time", "Colour", "Note"], [10, 10, 10, 10, 80])
        ordered = sorted(notes, key=lambda n: (n.start is not None, n.start or 0.0))
        for r, note in enumerate(ordered, start=2):
            number_cell(ns, r, 1, None if note.start is None else round_time(note.start),
                        SECONDS_FORMAT)
            number_cell(ns, r, 2, None if note.end is None else round_time(note.end),
                        SECONDS_FORMAT)
            number_cell(ns, r, 3, None if note.start is None else note.start / 86400.0,
                        CLOCK_FORMAT)
            text_cell(ns, r, 4, note.colour)
            text_cell(ns, r, 5, clean_text(note.text))
    buf = BytesIO()
    wb.save(buf)
    return buf.getvalue()
