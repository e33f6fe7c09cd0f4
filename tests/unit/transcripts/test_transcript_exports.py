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
from tapeworks.transcripts.cues import MAX_LINE_CHARS, MIN_CUE_SECONDS
from tapeworks.transcripts.editing import edit_segment_text
from tapeworks.transcripts.exporters import (
    EXPORT_FORMATS,
    MAX_CUE_SECONDS,
    export,
    format_clock,
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
    assert t.segments[1].start == 3.9  # headings round (as the page does), never truncate
    assert "山田 太郎 (client) [00:00:04]\nThanks for having me here today." in txt
    assert format_clock(6.75) == "00:00:07" and format_clock(6.49) == "00:00:06"
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
    # "Zoë Ünal-Łukasiewicz: " takes 22 of the 42 characters of the first line
    assert "<v Zoë Ünal-Łukasiewicz>Hello and welcome\nto the show.</v>" in vtt
    assert [c.key() for c in group_cues(parse_vtt(vtt))] == seg_keys(t)


def _line_budget(label: str | None) -> int:
    return max(12, MAX_LINE_CHARS - len(label) - 2) if label else MAX_LINE_CHARS


def _assert_broadcast_lines(c) -> None:
    assert 1 <= len(c.lines) <= 2 and " ".join(c.lines) == c.text
    for n, line in enumerate(c.lines):
        limit = _line_budget(c.speaker) if n == 0 else MAX_LINE_CHARS
        assert len(line) <= limit or " " not in line, (line, c)


def test_long_segments_are_split_at_word_boundaries_with_word_times():
    t = make_transcript([("S1", LONG), ("S2", "short one")])
    cues = subtitle_cues(t)
    first = [c for c in cues if c.identifier and c.identifier.startswith("seg-0001")]
    assert len(first) >= 2
    words = t.segments[0].words
    starts, ends = {ms(w.start) for w in words}, {ms(w.end) for w in words}
    for c in first:
        _assert_broadcast_lines(c)
        assert c.end - c.start <= MAX_CUE_SECONDS + 1e-9
        assert ms(c.start) in starts and ms(c.end) in ends
    assert " ".join(c.text for c in first) == t.segments[0].text
    assert [c.identifier for c in first] == ["seg-0001"] + [
        f"seg-0001#{i}" for i in range(2, len(first) + 1)
    ]
    srt = export(t, "srt").content.decode()
    assert "\nAnna: word0 word1 word2 word3 word4 word5\nword6 word7" in srt  # "Anna: " counted
    text_lines = [x for x in srt.splitlines() if x and "-->" not in x and not x.isdigit()]
    assert text_lines and max(len(x) for x in text_lines) <= MAX_LINE_CHARS
    srt_cues = parse_srt(srt, speakers=["Anna", "Ben"])
    assert [c.key() for c in srt_cues] == [c.key() for c in cues]
    assert all(c.speaker == "Anna" for c in srt_cues[: len(first)])
    vtt = export(t, "vtt").content.decode()
    # "short one" (0.7 s, the last turn) is extended into the silence after it to 0.8 s
    expected = seg_keys(t)
    expected[-1] = (expected[-1][0], expected[-1][0] + 800, *expected[-1][2:])
    assert [c.key() for c in group_cues(parse_vtt(vtt))] == expected


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
def test_property_subtitles_round_trip_to_broadcast_rules(t, names, data):
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
    # nothing lost, nothing repeated, in order
    clean = [" ".join(seg.text.split()) for seg in t.segments]
    assert " ".join(c.text for c in cues) == " ".join(x for x in clean if x)
    limit = t.duration if t.duration is not None else float("inf")
    for k, c in enumerate(cues):
        _assert_broadcast_lines(c)
        assert c.start == ms(c.start) / 1000 and c.end == ms(c.end) / 1000  # rounded once
        if len(c.text.split(" ")) > 1:
            assert c.end - c.start <= MAX_CUE_SECONDS + 0.002
        if c.end - c.start < MIN_CUE_SECONDS - 0.0005:  # short only with no silence left
            nxt = cues[k + 1] if k + 1 < len(cues) else None
            assert (nxt is not None and nxt.start - c.end <= 0.001) or c.end >= limit - 0.001, (c, nxt)
    for a, b in itertools.pairwise(cues):
        assert a.start <= a.end <= b.start + 1e-9
    # a speaker change always ends a cue: every cue's text lies within one speaker's turn
    turn_texts: list[tuple[str | None, str]] = []
    for seg, text in zip(t.segments, clean, strict=True):
        if not text:
            continue
        label = next((s.name for s in t.speakers if s.id == seg.speaker), seg.speaker)
        if turn_texts and turn_texts[-1][0] == label:
            turn_texts[-1] = (label, turn_texts[-1][1] + " " + text)
        else:
            turn_texts.append((label, text))
    k = 0
    for label, text in turn_texts:
        got = []
        while k < len(cues) and len(" ".join(got)) < len(text):
            assert cues[k].speaker == label
            got.append(cues[k].text)
            k += 1
        assert " ".join(got) == text


def test_a_twenty_millisecond_cue_is_merged_or_extended():
    t = make_transcript([("S1", "Right."), ("S1", "So we begin here."), ("S2", "Yes."), ("S1", "Good.")])
    t.segments[0].words[0].end = t.segments[0].words[0].start + 0.02
    t.segments[0].end = t.segments[0].words[0].end
    cues = subtitle_cues(t)
    # "Right." (20 ms) is 1.9 s before the next cue of the same speaker: too far to merge,
    # so it is extended into the silence after it
    assert cues[0].text == "Right." and cues[0].end - cues[0].start == MIN_CUE_SECONDS
    assert all(c.end - c.start >= MIN_CUE_SECONDS - 1e-9 for c in cues)
    # a short turn straight into another speaker keeps its length: no silence to take
    t2 = make_transcript([("S1", "So."), ("S2", "And then we went home.")])
    t2.segments[1] = t2.segments[1].model_copy(update={"start": t2.segments[0].end})
    first, second = subtitle_cues(t2)
    assert first.speaker != second.speaker and first.end == round(t2.segments[0].end, 3)


def test_short_cue_merges_with_a_close_neighbour_of_the_same_speaker():
    t = make_transcript([("S1", "So."), ("S1", "we begin")])
    t.segments[1] = t.segments[1].model_copy(update={"start": t.segments[0].end + 0.1})
    words = [w.model_copy(update={"start": w.start - 1.4, "end": w.end - 1.4}) for w in t.segments[1].words]
    t.segments[1] = t.segments[1].model_copy(update={"words": words, "start": words[0].start,
                                                      "end": words[-1].end})
    (cue,) = subtitle_cues(t)
    assert cue.text == "So. we begin" and cue.identifier == "seg-0001"


def test_rounding_is_half_up_everywhere():
    from tapeworks.transcripts.cues import ROUNDING, round_seconds, round_time, to_ms

    assert to_ms(1.0005) == 1001 and to_ms(0.0004) == 0 and to_ms(-3) == 0
    assert round_time(6.7496) == 6.75 and round_seconds(6.5) == 7 and round_seconds(6.49) == 6
    assert format_timestamp(1.0005) == "00:00:01,001"
    assert "Math.round" in ROUNDING["javascript"]


def test_cue_dataclass_key_ignores_identifier():
    assert Cue(1.0, 2.0, "A", "x", "1").key() == Cue(1.0, 2.0, "A", "x", None).key()
