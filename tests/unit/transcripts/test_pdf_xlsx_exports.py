"""PDF and XLSX transcripts: the text and the notes are really in the files.

The PDF is read back with pypdf (text extraction, comments); the XLSX with openpyxl
(number cells are numbers, text that looks like a formula stays text)."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader
from tests.helpers.transcripts import make_transcript

from tapeworks.transcripts.editing import edit_segment_text, update_speaker
from tapeworks.transcripts.fonts import FontsMissing, find_fonts
from tapeworks.transcripts.model import Speaker
from tapeworks.transcripts.notes import ExportNote, place_notes
from tapeworks.transcripts.pdf import to_pdf
from tapeworks.transcripts.xlsx import to_xlsx

SPOKEN = [
    ("S1", "Bonjour, ça va? Zoë Ünal-Łukasiewicz est là."),
    ("S2", "Καλημέρα σας, θέλω μια προαγωγή."),
    ("S1", "Привет, как дела на работе?"),
    ("S2", "我想升職，但是老闆不同意。"),
    ("S1", "=SUM(A1:A9) is not a formula here."),
]
SPEAKERS = [Speaker(id="S1", name="Zoë Ünal", role="coach"),
            Speaker(id="S2", name="山田 太郎", role="client")]
NOTES = [
    ExportNote("Whole session: résumé — очень хорошо — 很好"),
    ExportNote("Asks for a promotion (προαγωγή)", start=3.0, end=5.0, colour="#88ccff"),
    ExportNote("升職 again: follow up", start=9.6, end=10.0),
]


def squash(text: str) -> str:
    """Text without whitespace: PDF extraction puts spaces where fonts change."""
    return re.sub(r"\s+", "", text)


def pdf_text(data: bytes) -> tuple[str, list[str]]:
    reader = PdfReader(io.BytesIO(data))
    text = "\n".join(page.extract_text() for page in reader.pages)
    comments = [a.get_object().get("/Contents") for page in reader.pages
                for a in page.get("/Annots", []) or []]
    return text, [c for c in comments if c]


@pytest.fixture(scope="module")
def transcript():
    return make_transcript(SPOKEN, speakers=SPEAKERS)


def test_pdf_contains_the_transcript_names_times_and_notes(transcript):
    data = to_pdf(transcript, "Séance — 山田", NOTES)
    assert data.startswith(b"%PDF-")
    text, comments = pdf_text(data)
    flat = squash(text)
    for _, sentence in SPOKEN:
        assert squash(sentence) in flat
    for sp in SPEAKERS:
        assert squash(sp.name) in flat
    for note in NOTES:
        assert squash(note.text) in flat
    assert "[00:00:00]" in text and squash("Séance—山田") in flat
    # spanned notes are also PDF comments beside their words
    assert sorted(comments) == sorted(n.text for n in NOTES if n.start is not None)


def test_pdf_keeps_notes_through_text_edits_and_speaker_changes(transcript):
    seg = transcript.segments[1]
    edited = edit_segment_text(transcript, seg.id, "Καλημέρα, θέλω μια μεγάλη προαγωγή.")
    edited = update_speaker(edited, "S2", name="Taro Yamada")
    text, comments = pdf_text(to_pdf(edited, "edited", NOTES))
    flat = squash(text)
    assert squash("θέλω μια μεγάλη προαγωγή") in flat and "TaroYamada" in flat
    assert all(squash(n.text) in flat for n in NOTES)
    assert len(comments) == 2
    _, placed = place_notes(edited, NOTES)
    assert placed[seg.id] == [NOTES[1]]  # still beside the words it was written on


def test_pdf_of_a_long_transcript_runs_over_pages_and_keeps_every_note():
    spoken = [("S1" if i % 2 else "S2", f"Sentence number {i} of a long session, " * 6)
              for i in range(80)]
    t = make_transcript(spoken)
    notes = [ExportNote(f"note {i}", start=s.start, end=s.end) for i, s in
             enumerate(t.segments[::5])]
    reader_text, comments = pdf_text(to_pdf(t, "long", notes))
    assert len(PdfReader(io.BytesIO(to_pdf(t, "long", notes))).pages) > 3
    assert all(f"note {i}" in reader_text for i in range(len(notes)))
    assert len(comments) == len(notes)
    assert "Sentence number 79" in reader_text


def test_pdf_latin_only_needs_no_cjk_font_and_still_works(transcript):
    t = make_transcript([("S1", "Plain English only.")])
    text, _ = pdf_text(to_pdf(t, "plain"))
    assert "Plain English only." in text


def test_missing_fonts_are_a_clear_refusal(tmp_path, transcript):
    with pytest.raises(FontsMissing) as e:
        to_pdf(transcript, "x", fonts=find_fonts([tmp_path]))
    assert "fonts-noto-core" in e.value.message and "fonts-droid-fallback" in e.value.message
    assert str(tmp_path) not in e.value.message
    assert e.value.status_code == 503


def test_note_whose_words_were_deleted_is_still_placed(transcript):
    late = ExportNote("after the end", start=999.0, end=1000.0)
    session, placed = place_notes(transcript, [late])
    assert not session and placed[transcript.segments[-1].id] == [late]


def test_xlsx_one_row_per_segment_with_number_cells(transcript):
    wb = load_workbook(io.BytesIO(to_xlsx(transcript, "Séance", NOTES)))
    ws = wb["Transcript"]
    rows = list(ws.iter_rows(min_row=2, values_only=True))
    assert len(rows) == len(transcript.segments)
    for row, seg in zip(rows, transcript.segments, strict=True):
        seg_id, start, end, clock, speaker, role, text, _notes = row
        assert seg_id == seg.id and text == seg.text
        assert isinstance(start, int | float) and start == pytest.approx(seg.start, abs=1e-3)
        assert isinstance(end, int | float) and end == pytest.approx(seg.end, abs=1e-3)
        assert speaker == {"S1": "Zoë Ünal", "S2": "山田 太郎"}[seg.speaker]
        assert role in ("coach", "client")
        assert clock == pytest.approx(timedelta(seconds=seg.start), abs=timedelta(seconds=1))
    formula_row = ws.cell(row=len(rows) + 1, column=7)
    assert formula_row.data_type == "s" and formula_row.value.startswith("=SUM")
    assert ws.cell(row=3, column=8).value == NOTES[1].text
    assert ws.cell(row=2, column=4).number_format == "[h]:mm:ss"
    notes = list(wb["Notes"].iter_rows(min_row=2, values_only=True))
    assert [n[4] for n in notes] == [n.text for n in NOTES]
    assert notes[0][0] is None and notes[1][0] == 3.0


def test_json_export_carries_the_notes(transcript):
    import json

    from tapeworks.transcripts.exporters import export

    doc = json.loads(export(transcript, "json", title="t", notes=NOTES).content)
    assert [n["text"] for n in doc["notes"]] == [n.text for n in NOTES]
    assert doc["notes"][1]["start"] == 3.0 and doc["notes"][1]["colour"] == "#88ccff"
    assert "notes" not in json.loads(export(transcript, "json", title="t").content)


def test_docx_has_session_notes_and_comments_on_the_words(transcript):
    from docx import Document

    from tapeworks.transcripts.exporters import export

    doc = Document(io.BytesIO(export(transcript, "docx", title="t", notes=NOTES).content))
    body = "\n".join(p.text for p in doc.paragraphs)
    assert NOTES[0].text in body
    comments = {c.text: c for c in doc.comments}
    assert "[00:00:03–00:00:05] " + NOTES[1].text in comments
    assert any(NOTES[2].text in text for text in comments)
    # the comment is anchored on the segment the note covers
    xml = doc.element.body.xml
    anchored = xml.split("commentRangeStart")[1].split("commentRangeEnd")[0]
    assert "Καλημέρα" in anchored


@pytest.mark.parametrize("fmt", ["pdf", "xlsx"])
def test_pdf_and_xlsx_through_export(transcript, fmt):
    from tapeworks.transcripts.exporters import export

    r = export(transcript, fmt, title="Séance 1", notes=NOTES)
    assert r.filename == f"Séance-1.{fmt}"
    assert r.content[:4] in (b"%PDF", b"PK\x03\x04")
