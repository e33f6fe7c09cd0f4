from __future__ import annotations

import io
import itertools
import json

import pytest
from docx import Document
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.helpers.transcripts import make_transcript, transcripts

from tapeworks.errors import ValidationFailed
from tapeworks.transcripts.editing import edit_segment_text
from tapeworks.transcripts.exporters import (
    EXPORT_FORMATS,
    MAX_CUE_CHARS,
    MAX_CUE_SECONDS,
    export,
    format_timestamp,
    safe_filename,
    subtitle_cues,
)
from tapeworks.transcripts.model import Segment, Speaker, Transcript
from tapeworks.transcripts.parsers import Cue, group_cues, parse_srt, parse_vtt

UNICODE_SPEAKERS = [
    Speaker(id="S1", name="Zoë Ünal-Łukasiewicz", role="coach"),
    Speaker(id="S2", name="山田 太郎", role="client"),
]
MEDIA = {
    "json": "application/json",
    "txt": "text/plain; charset=utf-8",
    "srt": "application/x-subrip",
    "vtt": "text/vtt; charset=utf-8",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}

LONG = " ".join(f"word{i}" for i in range(40))


def ms(x: float) -> int:
    return round(x * 1000)


def seg_keys(t: Transcript) -> list[tuple]:
    names = {s.id: s.name for s in t.speakers}
    return [(ms(s.start), ms(s.end), names.get(s.speaker, s.speaker), s.text) for s in t.segments]


@pytest.mark.parametrize("fmt", EXPORT_FORMATS)
def test_media_types_and_extensions(fmt):
    r = export(make_transcript(), fmt, title="Session 1")
    assert r.media_type == MEDIA[fmt]
    assert r.filename == f"Session-1.{fmt}"
    assert isinstance(r.content, bytes) and r.content


def test_unknown_format():
    with pytest.raises(ValidationFailed) as e:
        export(make_transcript(), "odt")
    for fmt in EXPORT_FORMATS:
        assert fmt in str(e.value)
    assert export(make_transcript(), "SRT").media_type == MEDIA["srt"]


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("../../etc/passwd", "etc-passwd.txt"),
        ("Ünïcødé 🎙", "Ünïcødé.txt"),
        ("", "transcript.txt"),
        ("   ", "transcript.txt"),
        ("a\"b'c\\d/e:f*g?h<i>j|k", "a-b-c-d-e-f-g-h-i-j-k.txt"),
        ("..", "transcript.txt"),
        ("🎙🎙", "transcript.txt"),
        ("CON", "transcript-CON.txt"),
        ("line\nbreak\r\x00", "line-break.txt"),
        ("会议 记录", "会议-记录.txt"),
    ],
)
def test_safe_filenames(title, expected):
    assert safe_filename(title, "txt") == expected
    r = export(make_transcript(), "txt", title=title)
    assert r.filename == expected
    assert "/" not in r.filename and "\\" not in r.filename and '"' not in r.filename
    assert "\n" not in r.content_disposition and r.content_disposition.isascii()


def test_long_title_is_truncated():
    assert len(safe_filename("x" * 500, "docx")) <= 80 + len(".docx")


def test_timestamps():
    assert format_timestamp(0) == "00:00:00,000"
    assert format_timestamp(3723.4567) == "01:02:03,457"
    assert format_timestamp(59.9996, ".") == "00:01:00.000"
    assert format_timestamp(-1) == "00:00:00,000"


def test_txt_has_names_roles_and_times():
    t = make_transcript(speakers=UNICODE_SPEAKERS)
    txt = export(t, "txt", title="Séance").content.decode("utf-8")
    assert txt.startswith("Séance\n")
    assert "Zoë Ünal-Łukasiewicz (coach) [00:00:00]\nHello and welcome to the show." in txt
    ts = format_timestamp(t.segments[1].start).split(",")[0]
    assert f"山田 太郎 (client) [{ts}]\nThanks for having me here today." in txt
    assert txt.count("\n\n") >= 3


def test_txt_falls_back_to_speaker_id_and_no_role():
    t = make_transcript(speakers=[Speaker(id="S1", name="  "), Speaker(id="S2", name="Ben")])
    txt = export(t, "txt").content.decode()
    assert "S1 [00:00:00]" in txt and "Ben [" in txt and "(None)" not in txt


def test_json_round_trip():
    t = make_transcript(speakers=UNICODE_SPEAKERS)
    r = export(t, "json")
    assert Transcript.model_validate_json(r.content) == t
    assert json.loads(r.content)["speakers"][1]["name"] == "山田 太郎"


def test_docx_opens_and_contains_text():
    t = make_transcript(speakers=UNICODE_SPEAKERS)
    t.segments[0].text += " \x00\x07bell"  # control chars must not break the XML
    r = export(t, "docx", title="Ünïcødé 🎙")
    doc = Document(io.BytesIO(r.content))
    body = "\n".join(p.text for p in doc.paragraphs)
    assert "Ünïcødé 🎙" in body and doc.core_properties.title == "Ünïcødé 🎙"
    for seg in t.segments[1:]:
        assert seg.text in body
    assert "bell" in body
    bold = [run.text for p in doc.paragraphs for run in p.runs if run.bold]
    assert any(b.startswith("Zoë Ünal-Łukasiewicz (coach) [00:00:00]") for b in bold)
    assert any(b.startswith("山田 太郎 (client)") for b in bold)


def test_srt_and_vtt_round_trip_segments():
    t = make_transcript(speakers=UNICODE_SPEAKERS)
    names = [s.name for s in t.speakers]
    srt = export(t, "srt").content.decode()
    assert srt.startswith("1\n00:00:00,000 --> ")
    assert [c.key() for c in parse_srt(srt, speakers=names)] == seg_keys(t)
    vtt = export(t, "vtt").content.decode()
    assert vtt.startswith("WEBVTT\n")
    assert "<v Zoë Ünal-Łukasiewicz>Hello and welcome to the show.</v>" in vtt
    assert [c.key() for c in group_cues(parse_vtt(vtt))] == seg_keys(t)


def test_long_segments_are_split_at_word_boundaries_with_word_times():
    t = make_transcript([("S1", LONG), ("S2", "short one")])
    cues = subtitle_cues(t)
    first = [c for c in cues if c.identifier and c.identifier.startswith("seg-0001")]
    assert len(first) >= 2
    words = t.segments[0].words
    starts, ends = {ms(w.start) for w in words}, {ms(w.end) for w in words}
    for c in first:
        assert len(c.text) <= MAX_CUE_CHARS and c.end - c.start <= MAX_CUE_SECONDS + 1e-9
        assert ms(c.start) in starts and ms(c.end) in ends
    assert " ".join(c.text for c in first) == t.segments[0].text
    assert [c.identifier for c in first] == ["seg-0001"] + [
        f"seg-0001#{i}" for i in range(2, len(first) + 1)
    ]
    srt_cues = parse_srt(export(t, "srt").content.decode(), speakers=["Anna", "Ben"])
    assert [c.key() for c in srt_cues] == [c.key() for c in cues]
    assert all(c.speaker == "Anna" for c in srt_cues[: len(first)])
    vtt = export(t, "vtt").content.decode()
    assert [c.key() for c in group_cues(parse_vtt(vtt))] == seg_keys(t)


def test_segment_without_words_splits_proportionally():
    t = make_transcript([("S1", "a")])
    t.segments[0] = Segment(id="seg-0001", speaker="S1", start=10.0, end=30.0, text=LONG)
    cues = subtitle_cues(t)
    assert len(cues) > 1 and cues[0].start == 10.0 and cues[-1].end == 30.0
    assert all(a.end <= b.start for a, b in itertools.pairwise(cues))


def test_vtt_escapes_markup_and_arrows():
    t = make_transcript([("S1", "x")], speakers=[Speaker(id="S1", name="<b>A & B</b>")])
    t = edit_segment_text(t, "seg-0001", "if a<b --> c & d")
    vtt = export(t, "vtt").content.decode()
    assert "-->" not in vtt.split("\n", 3)[3].split("\n", 1)[1]  # only in the timing line
    (cue,) = parse_vtt(vtt)
    assert cue.speaker == "<b>A & B</b>" and cue.text == "if a<b --> c & d"


def test_parsers_tolerate_real_world_files():
    srt = "\ufeff1\r\n00:00:01,5 --> 00:00:02,000\r\n<i>Anna: hi</i>\r\nthere\r\n\r\n\r\n00:00:03,000 --> 00:00:04,000\r\nno index\r\n"
    cues = parse_srt(srt)
    assert [(c.start, c.end, c.speaker, c.text) for c in cues] == [
        (1.5, 2.0, "Anna", "hi there"),
        (3.0, 4.0, None, "no index"),
    ]
    vtt = (
        "WEBVTT - my file\n\nNOTE a comment\nspanning lines\n\nSTYLE\n::cue { color: red }\n\n"
        "01:02.500 --> 01:03.000 align:start\n<v.loud Ben>hey <i>you</i> &amp; me\n\n"
        "intro\n00:01:04.000 --> 00:01:05.000\n<c.x>plain</c> <00:01:04.500>text\n"
    )
    assert [(c.start, c.end, c.speaker, c.text, c.identifier) for c in parse_vtt(vtt)] == [
        (62.5, 63.0, "Ben", "hey you & me", None),
        (64.0, 65.0, None, "plain text", "intro"),
    ]
    with pytest.raises(ValueError):
        parse_vtt("1\n00:00:01,000 --> 00:00:02,000\nx\n")


def test_srt_speaker_heuristic_without_names():
    (a, b) = parse_srt(
        "1\n00:00:01,000 --> 00:00:02,000\nDr. Who? Yes: really\n\n"
        "2\n00:00:02,000 --> 00:00:03,000\nMaría José: hola\n"
    )
    assert a.speaker is None and a.text == "Dr. Who? Yes: really"
    assert b.speaker == "María José" and b.text == "hola"


names_st = (
    st.text(
        alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")),
        min_size=1,
        max_size=20,
    )
    .map(lambda s: " ".join(s.split()))
    .filter(bool)
)
texts_st = st.text(
    alphabet=st.sampled_from(list("abcXYZ éü日本 ,.:?!<>&-—'\"")), min_size=1, max_size=200
).filter(lambda s: s.strip())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    transcripts(max_words=60), st.lists(names_st, min_size=3, max_size=3, unique=True), st.data()
)
def test_property_subtitles_round_trip(t, names, data):
    for sp, name in zip(t.speakers, names, strict=False):
        sp.name = name
    # some segments get free text (possibly without matching words)
    for seg in t.segments:
        if data.draw(st.booleans()):
            t = edit_segment_text(t, seg.id, data.draw(texts_st))
    cues = subtitle_cues(t)
    srt = export(t, "srt").content.decode("utf-8")
    vtt = export(t, "vtt").content.decode("utf-8")
    assert [c.key() for c in parse_srt(srt, speakers=[s.name for s in t.speakers])] == [
        c.key() for c in cues
    ]
    parsed_vtt = parse_vtt(vtt)
    assert [c.key() for c in parsed_vtt] == [c.key() for c in cues]
    assert [c.key() for c in group_cues(parsed_vtt)] == seg_keys(t)
    for a, b in itertools.pairwise(cues):
        assert a.start <= a.end <= b.start + 1e-9
    for c in cues:
        assert len(c.text) <= MAX_CUE_CHARS or " " not in c.text


def test_cue_dataclass_key_ignores_identifier():
    assert Cue(1.0, 2.0, "A", "x", "1").key() == Cue(1.0, 2.0, "A", "x", None).key()
