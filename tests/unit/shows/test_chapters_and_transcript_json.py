"""Chapters (validation, JSON chapters 1.2.0, mapping across versions) and the Podcast
Index transcript JSON."""

from __future__ import annotations

import json

import pytest

from tapeworks.errors import ValidationFailed
from tapeworks.production.editlist import Cut, EditList
from tapeworks.production.retime import episode_to_source
from tapeworks.shows.chapters import (
    Chapter,
    id3_chapters,
    map_chapters,
    to_chapters_json,
    validate_chapters,
)
from tapeworks.shows.transcript_json import to_podcast_json
from tapeworks.transcripts.model import Segment, Speaker, Transcript, Word
from tests.helpers.transcripts import make_transcript


def test_chapters_are_validated_and_sorted() -> None:
    chapters = validate_chapters(
        [{"start": 60, "title": "  Main   part "}, {"start": 0, "title": "Intro"},
         {"start": 120.12345, "title": "Links", "url": "https://example.org/a"}],
        duration=300,
    )
    assert chapters == [Chapter(0, "Intro"), Chapter(60, "Main part"),
                        Chapter(120.123, "Links", "https://example.org/a")]
    assert id3_chapters(chapters) == [(0, "Intro"), (60, "Main part"), (120.123, "Links")]


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ([{"start": -1, "title": "x"}], "cannot be negative"),
        ([{"start": "10", "title": "x"}], "start must be a number"),
        ([{"start": float("nan"), "title": "x"}], "start must be a number"),
        ([{"start": True, "title": "x"}], "start must be a number"),
        ([{"start": 400, "title": "x"}], "after the episode ends"),
        ([{"start": 1, "title": "  "}], "needs a title"),
        ([{"start": 1, "title": "x" * 201}], "longer than 200"),
        ([{"start": 1, "title": "x", "url": "javascript:alert(1)"}], "http:// or https://"),
        ([{"start": 1, "title": "x", "url": "example.org"}], "http:// or https://"),
        ([{"start": 5, "title": "a"}, {"start": 5, "title": "b"}], "two chapters start at 5 s"),
        (["nope"], "must be an object"),
        ([{"start": i, "title": "x"} for i in range(501)], "at most 500"),
    ],
)
def test_bad_chapters_name_the_problem(raw, words) -> None:
    with pytest.raises(ValidationFailed) as info:
        validate_chapters(raw, duration=300)
    assert words in info.value.message


def test_chapters_json_is_version_1_2_0() -> None:
    doc = json.loads(to_chapters_json(
        [Chapter(30, "Second", "https://example.org"), Chapter(0, "Intro <&>")],
        title="Episode 1", podcast_name="Show", author="Anna"))
    assert doc == {
        "version": "1.2.0", "title": "Episode 1", "podcastName": "Show", "author": "Anna",
        "chapters": [{"startTime": 0, "title": "Intro <&>"},
                     {"startTime": 30, "title": "Second", "url": "https://example.org"}],
    }


def test_episode_time_maps_back_to_source_time() -> None:
    edit = EditList(100.0, (Cut(10, 20, "pause"), Cut(50, 60, "user")))
    assert episode_to_source(edit, 5) == 5
    assert episode_to_source(edit, 10) == 20  # the join: where kept audio resumes
    assert episode_to_source(edit, 35) == 45
    assert episode_to_source(edit, 45) == 65
    for t in (0, 3, 12, 31, 47, 79.5):
        assert edit.source_to_episode(episode_to_source(edit, t)) == pytest.approx(t)


def test_chapters_follow_the_conversation_into_a_new_version() -> None:
    old = EditList(100.0, (Cut(10, 20, "pause"),))  # old version: 5 s intro
    new = EditList(100.0, (Cut(30, 40, "user"),))  # new version: 8 s intro
    chapters = [Chapter(0, "Intro"), Chapter(4, "Intro tail"), Chapter(5, "Hello"),
                Chapter(5 + 25, "Topic", "https://example.org")]  # source 35 -> cut now
    mapped = map_chapters(chapters, old_edit=old, old_offset=5, new_edit=new, new_offset=8,
                          new_duration=98)
    # Intro stays; "Intro tail" (4 s) is inside the new 8 s intro too; "Hello" was at
    # source 0 -> 8; "Topic" at source 35, inside the new cut -> its join at 30 -> 38.
    assert mapped == [Chapter(0, "Intro"), Chapter(4, "Intro tail"), Chapter(8, "Hello"),
                      Chapter(38, "Topic", "https://example.org")]
    shorter = map_chapters([Chapter(0, "Intro"), Chapter(4, "Late intro"), Chapter(90, "End")],
                           old_edit=old, old_offset=5, new_edit=new, new_offset=2,
                           new_duration=80)
    assert shorter == [Chapter(0, "Intro")]  # 4 s is past the new intro; 90 s past the end


def test_a_cut_before_moves_a_chapter_earlier_and_one_inside_to_the_cut_point() -> None:
    old = EditList(100.0)  # set on a version without cuts
    new = EditList(100.0, (Cut(10, 14, "user"), Cut(40, 50, "filler")))
    chapters = [Chapter(5, "Before"), Chapter(20, "After one cut"), Chapter(42, "Inside"),
                Chapter(45, "Inside too"), Chapter(60, "After both")]
    mapped = map_chapters(chapters, old_edit=old, old_offset=0, new_edit=new, new_offset=0,
                          new_duration=86)
    # 20 - 4; 42 and 45 both at the join 40 - 4 = 36, where "Inside too"'s part is heard
    # (it began before the cut's end): the later one is kept; 60 - 14
    assert mapped == [Chapter(5, "Before"), Chapter(16, "After one cut"),
                      Chapter(36, "Inside too"), Chapter(46, "After both")]
    # and back: a restored span moves later chapters later by its length
    back = map_chapters([Chapter(16, "After one cut")], old_edit=new, old_offset=0,
                        new_edit=old, new_offset=0)
    assert back == [Chapter(20, "After one cut")]


def test_transcript_json_has_one_segment_per_word_with_speaker_names() -> None:
    t = make_transcript()
    doc = json.loads(to_podcast_json(t))
    assert doc["version"] == "1.0.0"
    words = t.words()
    assert len(doc["segments"]) == len(words)
    first = doc["segments"][0]
    assert first == {"speaker": "Anna", "startTime": words[0].start,
                     "endTime": words[0].end, "body": "Hello"}
    assert {s["speaker"] for s in doc["segments"]} == {"Anna", "Ben"}
    starts = [s["startTime"] for s in doc["segments"]]
    assert starts == sorted(starts)


def test_transcript_json_without_word_timings_uses_segments_and_cleans_text() -> None:
    t = Transcript(
        speakers=[Speaker(id="S1", name="", role=None)],
        segments=[Segment(id="a", speaker="S1", start=1.0, end=2.5, text="Hi\x00 <there>"),
                  Segment(id="b", speaker=None, start=3.0, end=4.0, text="   "),
                  Segment(id="c", speaker=None, start=4.0, end=5.0, text="bye",
                          words=[Word(text=" ", start=4.0, end=4.1)])],
    )
    doc = json.loads(to_podcast_json(t))
    assert doc["segments"] == [
        {"speaker": "S1", "startTime": 1.0, "endTime": 2.5, "body": "Hi <there>"},
        {"startTime": 4.0, "endTime": 5.0, "body": "bye"},
    ]
