"""PDF of a transcript (fpdf2): title, speakers, each segment under its speaker's name and
time, and the notes: the session's notes at the top, each spanned note in the right-hand
margin beside the segment it covers (with its time span, a bar in its highlight colour,
and a PDF comment carrying its text so a viewer lists it among the comments).

Fonts (see `tapeworks.transcripts.fonts`): Latin, Greek and Cyrillic from Noto Sans,
ideographs from Droid Sans Fallback as the fallback font, embedded as subsets, with
their Unicode mapping, so the text can be searched and copied out of the PDF.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from tapeworks.transcripts.fonts import FontSet, covers, find_fonts
from tapeworks.transcripts.labels import clean_text, format_clock, heading
from tapeworks.transcripts.model import Transcript
from tapeworks.transcripts.notes import ExportNote, place_notes

PAGE_MARGIN = 15.0  # mm
MARGIN_COLUMN = 52.0  # mm, for notes
COLUMN_GAP = 6.0
BODY_SIZE = 10.5
HEADING_SIZE = 9.0
NOTE_SIZE = 8.0
LINE = 5.0
NOTE_LINE = 3.8


def _span_label(note: ExportNote) -> str:
    assert note.start is not None
    if note.end is None or abs(note.end - note.start) < 0.5:
        return format_clock(note.start)
    return f"{format_clock(note.start)}–{format_clock(note.end)}"


def _pdf_class() -> type:
    from fpdf import FPDF

    class TranscriptPDF(FPDF):
        footer_text = ""

        def footer(self) -> None:
            self.set_y(-10)
            self.set_font("body", "", 7.5)
            self.set_text_color(120, 120, 120)
            self.cell(0, 4, f"{self.footer_text}  ·  {self.page_no()}/{{nb}}", align="C")
            self.set_text_color(0, 0, 0)

    return TranscriptPDF


def to_pdf(
    t: Transcript,
    title: str,
    notes: Sequence[ExportNote] = (),
    *,
    fonts: FontSet | None = None,
    created_at: datetime | None = None,
) -> bytes:
    from fpdf.enums import XPos, YPos

    fonts = fonts or find_fonts()
    clean_title = clean_text(title) or "transcript"
    pdf = _pdf_class()(format="A4", unit="mm")
    pdf.footer_text = clean_title[:80]
    pdf.set_creation_date(created_at or datetime.now(UTC))
    pdf.set_title(clean_title[:255])
    pdf.set_creator("tapeworks")
    pdf.add_font("body", "", str(fonts.regular.path))
    pdf.add_font("body", "B", str(fonts.bold.path))
    # ideographs come from the fallback font, embedded only when the text has some
    text = " ".join([title, *(s.text for s in t.segments), *(n.text for n in notes),
                     *(sp.name for sp in t.speakers), t.language or ""])
    if not (covers(fonts.regular, text) and covers(fonts.bold, text)):
        pdf.add_font("cjk", "", str(fonts.cjk.path))
        pdf.set_fallback_fonts(["cjk"], exact_match=False)
    session_notes, by_segment = place_notes(t, notes)
    pdf.set_margins(PAGE_MARGIN, PAGE_MARGIN, PAGE_MARGIN)
    pdf.set_auto_page_break(True, margin=PAGE_MARGIN)
    pdf.add_page()

    page_w = pdf.w - 2 * PAGE_MARGIN
    with_margin = bool(by_segment)
    main_w = page_w - (MARGIN_COLUMN + COLUMN_GAP if with_margin else 0)
    note_x = PAGE_MARGIN + main_w + COLUMN_GAP
    left = PAGE_MARGIN

    pdf.set_font("body", "B", 16)
    pdf.multi_cell(page_w, 8, clean_title, new_x=XPos.LMARGIN, new_y=YPos.NEXT, align="L")
    facts = []
    if t.duration:
        facts.append(format_clock(t.duration))
    if t.language:
        facts.append(t.language)
    names = [clean_text(sp.name) + (f" ({sp.role})" if sp.role else "") for sp in t.speakers]
    if names:
        facts.append(", ".join(n for n in names if n.strip()))
    if facts:
        pdf.set_font("body", "", 9)
        pdf.set_text_color(90, 90, 90)
        pdf.multi_cell(page_w, 4.5, "  ·  ".join(facts), new_x=XPos.LMARGIN, new_y=YPos.NEXT, align="L")
        pdf.set_text_color(0, 0, 0)
    pdf.ln(3)

    if session_notes:
        pdf.set_font("body", "B", HEADING_SIZE)
        pdf.cell(page_w, 5, "Notes", new_x=XPos.LMARGIN, new_y=YPos.NEXT, align="L")
        for note in session_notes:
            pdf.set_font("body", "", BODY_SIZE - 1)
            label = f"[{_span_label(note)}] " if note.start is not None else ""
            pdf.set_fill_color(245, 245, 240)
            pdf.multi_cell(page_w, LINE, label + clean_text(note.text), fill=True,
                           new_x=XPos.LMARGIN, new_y=YPos.NEXT, align="L")
            pdf.ln(1.5)
        pdf.ln(3)

    usable = pdf.h - 2 * PAGE_MARGIN - 10
    for seg in t.segments:
        text = clean_text(seg.text)
        if not text:
            continue
        head = heading(t, seg)
        seg_notes = by_segment.get(seg.id, [])
        pdf.set_font("body", "", BODY_SIZE)
        text_h = LINE + float(pdf.multi_cell(main_w, LINE, text, dry_run=True, output="HEIGHT", align="L"))
        notes_h = 0.0
        pdf.set_font("body", "", NOTE_SIZE)
        for note in seg_notes:
            notes_h += NOTE_LINE + 1.5 + float(pdf.multi_cell(
                MARGIN_COLUMN - 2.5, NOTE_LINE, clean_text(note.text), dry_run=True, output="HEIGHT", align="L"))
        need = max(text_h, notes_h)
        if pdf.get_y() + min(need, usable) > pdf.page_break_trigger:
            pdf.add_page()
        y0, page0 = pdf.get_y(), pdf.page

        pdf.set_xy(left, y0)
        pdf.set_font("body", "B", HEADING_SIZE)
        pdf.set_text_color(60, 60, 60)
        pdf.cell(main_w, LINE, head, new_x=XPos.LMARGIN, new_y=YPos.NEXT, align="L")
        pdf.set_text_color(0, 0, 0)
        pdf.set_font("body", "", BODY_SIZE)
        pdf.multi_cell(main_w, LINE, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT, align="L")
        end_page, end_y = pdf.page, pdf.get_y()

        highlights = [n for n in seg_notes if n.colour]
        if highlights and end_page == page0:
            pdf.set_fill_color(*highlights[0].rgb())
            pdf.rect(left - 3.0, y0 + LINE, 1.4, max(end_y - y0 - LINE, 1.0), style="F")

        if seg_notes:
            # beside the segment, or after it when the segment itself ran over a page
            y = y0 if end_page == page0 else end_y
            pdf.set_xy(note_x, y)
            for note in seg_notes:
                ny, npage = pdf.get_y(), pdf.page
                pdf.set_x(note_x + 2.5)
                pdf.set_font("body", "B", NOTE_SIZE - 0.5)
                pdf.set_text_color(90, 90, 90)
                pdf.cell(MARGIN_COLUMN - 2.5, NOTE_LINE, _span_label(note),
                         new_x=XPos.LEFT, new_y=YPos.NEXT)
                pdf.set_text_color(0, 0, 0)
                pdf.set_font("body", "", NOTE_SIZE)
                pdf.set_x(note_x + 2.5)
                pdf.multi_cell(MARGIN_COLUMN - 2.5, NOTE_LINE, clean_text(note.text),
                               new_x=XPos.LEFT, new_y=YPos.NEXT, align="L")
                if pdf.page == npage:
                    pdf.set_fill_color(*note.rgb())
                    pdf.rect(note_x, ny, 1.2, pdf.get_y() - ny, style="F")
                # the same note as a PDF comment, its icon in the page margin
                pdf.text_annotation(pdf.w - PAGE_MARGIN + 3, ny + NOTE_LINE, clean_text(note.text),
                                    title=_span_label(note))
                pdf.set_xy(note_x, pdf.get_y() + 1.5)
            notes_end = (pdf.page, pdf.get_y())
            if notes_end > (end_page, end_y):
                end_page, end_y = notes_end
        pdf.set_xy(left, end_y + 2.5)
    return bytes(pdf.output())
