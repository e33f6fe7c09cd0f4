from __future__ import annotations

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from tests.helpers.transcripts import make_transcript, transcripts

from tapeworks.errors import NotFound, ValidationFailed
from tapeworks.transcripts.editing import (
    EDGE_SECONDS_PER_WORD,
    MIN_NEW_WORD_SECONDS,
    add_speaker,
    apply_edit,
    apply_edits,
    delete_segment,
    edit_segment_text,
    edit_word,
    merge_segments,
    reassign_segment,
    split_segment,
    update_speaker,
)
from tapeworks.transcripts.model import SPEAKER_ROLES, Transcript


def timing(w):
    return (w.start, w.end, w.confidence, w.speaker)


def assert_monotonic(t: Transcript) -> None:
    prev_start = -1.0
    for seg in t.segments:
        assert seg.start <= seg.end
        assert seg.start >= prev_start
        prev_start = seg.start
        last = seg.start
        for w in seg.words:
            assert w.start <= w.end
            assert w.start >= last - 1e-9
            assert seg.start - 1e-9 <= w.start and w.end <= seg.end + 1e-9
            last = w.start


# ------------------------------------------------------------------ edit_text


def test_edit_keeps_unchanged_words_and_spreads_replacement():
    t = make_transcript()
    seg = t.segments[1]  # Thanks for having me here today.
    before = [timing(w) for w in seg.words]
    t2 = edit_segment_text(t, seg.id, "Thanks so much for having me here today.")
    new = t2.segments[1]
    assert new.text == "Thanks so much for having me here today."
    by_text = {w.text: w for w in new.words}
    for old_w, new_text in zip(
        seg.words, ["Thanks", "for", "having", "me", "here", "today."], strict=True
    ):
        assert timing(by_text[new_text]) == timing(old_w)
    # inserted words between "Thanks" (end) and "for" (start), confidence 1.0
    for inserted in ("so", "much"):
        w = by_text[inserted]
        assert seg.words[0].end <= w.start <= w.end <= seg.words[1].start
        assert w.confidence == 1.0
        assert w.speaker == seg.speaker
    assert before == [timing(w) for w in t.segments[1].words]  # input untouched
    assert t2.version == t.version + 1


def test_replacement_uses_replaced_words_span():
    t = make_transcript([("S1", "one two three four five")])
    words = t.segments[0].words
    t2 = edit_segment_text(t, t.segments[0].id, "one deux trois quatre four five")
    new = t2.segments[0].words
    assert [w.text for w in new] == ["one", "deux", "trois", "quatre", "four", "five"]
    lo, hi = words[1].start, words[2].end
    spread = new[1:4]
    assert spread[0].start == pytest.approx(lo)
    assert spread[-1].end == pytest.approx(hi)
    durations = [w.end - w.start for w in spread]
    assert max(durations) - min(durations) < 1e-9  # evenly
    assert timing(new[4]) == timing(words[3]) and timing(new[0]) == timing(words[0])


def test_case_and_punctuation_fix_keeps_timing_and_confidence():
    t = make_transcript([("S1", "hello world how are you")])
    t2 = edit_segment_text(t, "seg-0001", "Hello, world! How are you?")
    old, new = t.segments[0].words, t2.segments[0].words
    assert [w.text for w in new] == ["Hello,", "world!", "How", "are", "you?"]
    assert [timing(w) for w in new] == [timing(w) for w in old]


def test_deleting_words_keeps_the_rest():
    t = make_transcript([("S1", "so um I think uh that works")])
    t2 = edit_segment_text(t, "seg-0001", "so I think that works")
    old = {w.text: w for w in t.segments[0].words}
    new = t2.segments[0].words
    assert [w.text for w in new] == ["so", "I", "think", "that", "works"]
    for w in new:
        assert timing(w) == timing(old[w.text])
    assert t2.segments[0].start == old["so"].start and t2.segments[0].end == old["works"].end


def test_append_at_segment_end_reaches_into_following_pause_but_not_next_segment():
    t = make_transcript()
    seg, nxt = t.segments[0], t.segments[1]
    t2 = edit_segment_text(t, seg.id, seg.text + " again and again")
    new = t2.segments[0].words[-3:]
    assert [w.text for w in new] == ["again", "and", "again"]
    assert new[0].start == pytest.approx(seg.words[-1].end)
    assert new[-1].end <= min(nxt.start, seg.end + 3 * EDGE_SECONDS_PER_WORD) + 1e-9
    assert new[-1].end > seg.end  # not all squeezed to zero length
    assert_monotonic(t2)


def test_prepend_at_transcript_start_never_before_zero():
    t = make_transcript()
    t2 = edit_segment_text(t, "seg-0001", "Well " + t.segments[0].text)
    w, hello = t2.segments[0].words[:2]
    old = t.segments[0].words[0]
    assert w.text == "Well" and w.start >= 0 and w.end <= hello.start
    # no time before the first word: "Hello" gives "Well" some of its own, no zero length
    assert w.end - w.start == pytest.approx(MIN_NEW_WORD_SECONDS)
    assert hello.end == old.end and hello.start - old.start <= (old.end - old.start) / 2
    assert_monotonic(t2)


def test_a_word_inserted_between_touching_words_gets_time_from_them():
    t = make_transcript([("S1", "one two three")])
    ws = t.segments[0].words
    ws[1].start = ws[0].end  # "one" and "two" touch
    t2 = edit_segment_text(t, "seg-0001", "one and two three")
    one, and_, two, three = t2.segments[0].words
    assert and_.end - and_.start == pytest.approx(MIN_NEW_WORD_SECONDS)
    assert one.end == and_.start and and_.end == two.start
    assert one.start == ws[0].start and two.end == ws[1].end and timing(three) == timing(ws[2])
    assert one.end - one.start >= (ws[0].end - ws[0].start) / 2
    # the same through edit_word: a zero-length word made into two gets time too
    ws[1].end = ws[1].start
    t3 = edit_word(t, "seg-0001", 1, "two too")
    assert all(w.end > w.start for w in t3.segments[0].words[:3])
    assert_monotonic(t3)


def test_empty_text_removes_segment():
    t = make_transcript()
    t2 = edit_segment_text(t, "seg-0002", "   \n ")
    assert [s.id for s in t2.segments] == ["seg-0001", "seg-0003"]
    assert len(t.segments) == 3


def test_edit_segment_without_words_spreads_over_segment():
    t = make_transcript()
    t.segments[0].words = []
    t2 = edit_segment_text(t, "seg-0001", "a b")
    ws = t2.segments[0].words
    assert [w.text for w in ws] == ["a", "b"]
    assert ws[0].start == t.segments[0].start and ws[1].end == t.segments[0].end


def test_edit_errors():
    t = make_transcript()
    with pytest.raises(NotFound, match="seg-9999"):
        edit_segment_text(t, "seg-9999", "x")
    with pytest.raises(ValidationFailed):
        edit_segment_text(t, "seg-0001", 42)  # type: ignore[arg-type]
    with pytest.raises(ValidationFailed):
        edit_segment_text(t, "seg-0001", "x " * 20_000)


# ------------------------------------------------------------------ property tests


@st.composite
def transcript_and_edit(draw):
    t = draw(transcripts(unique_words=True))
    seg_i = draw(st.integers(0, len(t.segments) - 1))
    seg = t.segments[seg_i]
    keep = [draw(st.booleans()) for _ in seg.words]
    tokens: list[tuple[str, int | None]] = []
    counter = 0
    for i, w in enumerate(seg.words):
        for _ in range(draw(st.integers(0, 2))):
            tokens.append((f"new{counter}", None))
            counter += 1
        if keep[i]:
            text = (
                w.text.upper()
                if draw(st.booleans())
                else w.text + draw(st.sampled_from(["", ",", "."]))
            )
            tokens.append((text, i))
    for _ in range(draw(st.integers(0, 3))):
        tokens.append((f"new{counter}", None))
        counter += 1
    return t, seg_i, tokens


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(transcript_and_edit())
def test_property_unchanged_words_keep_timing(case):
    t, seg_i, tokens = case
    assume(tokens)
    snapshot = t.model_dump_json()
    seg = t.segments[seg_i]
    t2 = edit_segment_text(t, seg.id, " ".join(tok for tok, _ in tokens))
    assert t.model_dump_json() == snapshot  # input untouched
    assert t2.version == t.version + 1
    new_seg = next(s for s in t2.segments if s.id == seg.id)
    assert [w.text for w in new_seg.words] == [tok for tok, _ in tokens]
    # words the diff kept: identical timing, confidence and speaker; only a word next to
    # new words may give them up to half its length (when they had too little time)
    for k, (w, (_tok, src)) in enumerate(zip(new_seg.words, tokens, strict=True)):
        if src is None:
            assert w.end - w.start >= -1e-9
            continue
        o = seg.words[src]
        new_before = k > 0 and tokens[k - 1][1] is None
        new_after = k + 1 < len(tokens) and tokens[k + 1][1] is None
        assert (w.confidence, w.speaker) == (o.confidence, o.speaker)
        assert w.start == o.start or (
            new_before and o.start < w.start <= (o.start + o.end) / 2 + 1e-9
        )
        assert w.end == o.end or (new_after and (o.start + o.end) / 2 - 1e-9 <= w.end < o.end)
    # new words lie in the gap between their kept neighbours (edges: up to the
    # neighbouring segments / audio start / duration)
    prev_seg_end = t.segments[seg_i - 1].end if seg_i > 0 else 0.0
    next_seg_start = t.segments[seg_i + 1].start if seg_i + 1 < len(t.segments) else t.duration
    for k, (w, (_tok, src)) in enumerate(zip(new_seg.words, tokens, strict=True)):
        if src is not None:
            continue
        before = [
            (seg.words[s].start + seg.words[s].end) / 2 for _, s in tokens[:k] if s is not None
        ]
        after = [
            (seg.words[s].start + seg.words[s].end) / 2 for _, s in tokens[k + 1 :] if s is not None
        ]
        lo = before[-1] if before else min(prev_seg_end, seg.start)
        hi = after[0] if after else max(next_seg_start, seg.end)
        assert lo - 1e-9 <= w.start <= w.end <= hi + 1e-9
        assert w.confidence == 1.0
    # other segments untouched
    others = [s for s in t.segments if s.id != seg.id]
    assert others == [s for s in t2.segments if s.id != seg.id]
    assert_monotonic(t2)


@settings(max_examples=200, deadline=None)
@given(transcripts(), st.data())
def test_property_any_text_keeps_invariants(t, data):
    seg = data.draw(st.sampled_from(t.segments))
    text = data.draw(st.text(alphabet=st.sampled_from(list("ab cé,.?!日 \n\t")), max_size=40))
    t2 = edit_segment_text(t, seg.id, text)
    assert_monotonic(t2)
    if text.strip():
        new = next(s for s in t2.segments if s.id == seg.id)
        assert new.text.split() == text.split() or new.words
        # every word whose text is unchanged and in the same place of an identical
        # prefix keeps its timing
        for a, b in zip(seg.words, new.words, strict=False):
            if a.text != b.text:
                break
            assert (a.start, a.confidence, a.speaker) == (b.start, b.confidence, b.speaker)
            assert a.end == b.end or (a.start + a.end) / 2 - 1e-9 <= b.end  # room for a new word
    else:
        assert seg.id not in [s.id for s in t2.segments]


# ------------------------------------------------------------------ speakers


def test_rename_and_rerole_speaker():
    t = make_transcript()
    t2 = update_speaker(t, "S1", name="  Dr. Zoë   Ø'Brien ", role="host")
    sp = t2.speaker("S1")
    assert sp is not None and sp.name == "Dr. Zoë Ø'Brien" and sp.role == "host"
    assert t.speaker("S1").name == "Anna" and t.speaker("S1").role == "coach"
    assert t2.version == 2 and t.version == 1
    t3 = update_speaker(t2, "S1", role="")
    assert t3.speaker("S1").role is None and t3.speaker("S1").name == "Dr. Zoë Ø'Brien"


def test_speaker_errors():
    t = make_transcript()
    with pytest.raises(NotFound, match="nobody"):
        update_speaker(t, "nobody", name="x")
    with pytest.raises(ValidationFailed) as e:
        update_speaker(t, "S1", role="boss")
    for role in SPEAKER_ROLES:
        assert role in str(e.value)
    with pytest.raises(ValidationFailed):
        update_speaker(t, "S1", name="   ")
    with pytest.raises(ValidationFailed):
        update_speaker(t, "S1", name="x" * 101)
    with pytest.raises(ValidationFailed):
        update_speaker(t, "S1")
    with pytest.raises(ValidationFailed):
        add_speaker(t, "Carl", role="boss")
    with pytest.raises(ValidationFailed):
        add_speaker(t, "")


def test_add_speaker_and_reassign():
    t = make_transcript()
    t2, sp = add_speaker(t, "Carla", role="guest")
    assert sp.id not in {"S1", "S2"} and t2.speaker(sp.id) == sp and len(t.speakers) == 2
    t3, sp2 = add_speaker(t2, "Dan")
    assert sp2.id != sp.id and sp2.role is None
    t4 = reassign_segment(t3, "seg-0002", sp.id)
    seg = t4.segments[1]
    assert seg.speaker == sp.id and all(w.speaker == sp.id for w in seg.words)
    assert t3.segments[1].speaker == "S2" and all(w.speaker == "S2" for w in t3.segments[1].words)
    assert t4.version == t.version + 3
    with pytest.raises(NotFound, match="seg-0042"):
        reassign_segment(t4, "seg-0042", "S1")
    with pytest.raises(NotFound, match="ghost"):
        reassign_segment(t4, "seg-0001", "ghost")


# ------------------------------------------------------------------ merge / split


def test_merge_adjacent_segments():
    t = make_transcript()
    t2 = merge_segments(t, ["seg-0002", "seg-0001"])
    assert [s.id for s in t2.segments] == ["seg-0001", "seg-0003"]
    m = t2.segments[0]
    assert m.speaker == "S1"
    assert m.text == t.segments[0].text + " " + t.segments[1].text
    assert m.start == t.segments[0].start and m.end == t.segments[1].end
    assert [timing(w) for w in m.words] == [
        timing(w) for w in t.segments[0].words + t.segments[1].words
    ]
    assert len(t.segments) == 3


def test_merge_errors():
    t = make_transcript()
    with pytest.raises(ValidationFailed, match="adjacent"):
        merge_segments(t, ["seg-0001", "seg-0003"])
    with pytest.raises(ValidationFailed):
        merge_segments(t, ["seg-0001"])
    with pytest.raises(ValidationFailed):
        merge_segments(t, ["seg-0001", "seg-0001"])
    with pytest.raises(NotFound, match="seg-0077"):
        merge_segments(t, ["seg-0001", "seg-0077"])


def test_split_then_merge_restores_segment():
    t = make_transcript()
    t2 = split_segment(t, "seg-0002", 2)
    assert [s.id for s in t2.segments] == ["seg-0001", "seg-0002", "seg-0004", "seg-0003"]
    a, b = t2.segments[1], t2.segments[2]
    assert a.text == "Thanks for" and b.text == "having me here today."
    assert a.end == t.segments[1].words[1].end and b.start == t.segments[1].words[2].start
    assert b.speaker == a.speaker
    t3 = merge_segments(t2, ["seg-0002", "seg-0004"])
    assert t3.segments[1].model_dump() == t.segments[1].model_dump()
    assert t3.version == 3


@pytest.mark.parametrize("index", [0, 6, -1, 99])
def test_split_bad_index(index):
    t = make_transcript()
    with pytest.raises(ValidationFailed, match="at_word_index"):
        split_segment(t, "seg-0002", index)


def test_split_unknown_segment():
    with pytest.raises(NotFound, match="nope"):
        split_segment(make_transcript(), "nope", 1)


def test_delete_segment():
    t = make_transcript()
    assert [s.id for s in delete_segment(t, "seg-0001").segments] == ["seg-0002", "seg-0003"]
    with pytest.raises(NotFound):
        delete_segment(t, "seg-0010")


# ------------------------------------------------------------------ dispatcher


def test_apply_edit_dispatches():
    t = make_transcript()
    t2 = apply_edit(t, {"op": "update_speaker", "speaker_id": "S2", "name": "Benoît", "role": None})
    assert t2.speaker("S2").name == "Benoît" and t2.speaker("S2").role is None
    t3 = apply_edit(t2, {"op": "edit_text", "segment_id": "seg-0001", "text": "Hello there."})
    assert t3.segments[0].text == "Hello there."
    t4 = apply_edit(t3, {"op": "split_segment", "segment_id": "seg-0002", "at_word_index": 1})
    t5 = apply_edit(t4, {"op": "merge_segments", "segment_ids": ["seg-0002", "seg-0004"]})
    t6 = apply_edit(t5, {"op": "reassign_segment", "segment_id": "seg-0002", "speaker_id": "S1"})
    t7 = apply_edit(t6, {"op": "add_speaker", "name": "Eve", "role": "other"})
    t8 = apply_edit(t7, {"op": "delete_segment", "segment_id": "seg-0003"})
    assert t8.version == 8 and len(t8.speakers) == 3 and len(t8.segments) == 2


@pytest.mark.parametrize(
    ("body", "exc"),
    [
        ({"op": "explode"}, ValidationFailed),
        ({}, ValidationFailed),
        ("edit_text", ValidationFailed),
        ({"op": "edit_text", "segment_id": "seg-0001"}, ValidationFailed),
        ({"op": "edit_text", "segment_id": "seg-0001", "text": 3}, ValidationFailed),
        ({"op": "edit_text", "segment_id": "seg-0001", "text": "x", "extra": 1}, ValidationFailed),
        ({"op": "edit_text", "segment_id": "seg-0999", "text": "x"}, NotFound),
        (
            {"op": "split_segment", "segment_id": "seg-0001", "at_word_index": True},
            ValidationFailed,
        ),
        ({"op": "split_segment", "segment_id": "seg-0001", "at_word_index": "2"}, ValidationFailed),
        ({"op": "merge_segments", "segment_ids": "seg-0001"}, ValidationFailed),
        ({"op": "merge_segments", "segment_ids": ["seg-0001", 2]}, ValidationFailed),
        ({"op": "update_speaker", "speaker_id": "S1", "role": 5}, ValidationFailed),
        ({"op": "update_speaker", "speaker_id": "S1", "role": "ceo"}, ValidationFailed),
    ],
)
def test_apply_edit_rejects_bad_bodies(body, exc):
    with pytest.raises(exc):
        apply_edit(make_transcript(), body)


def test_apply_edits_is_one_version_and_all_or_nothing():
    t = make_transcript()
    t2 = apply_edits(
        t,
        [
            {"op": "update_speaker", "speaker_id": "S1", "name": "A"},
            {"op": "update_speaker", "speaker_id": "S2", "name": "B"},
        ],
    )
    assert t2.version == t.version + 1 and [s.name for s in t2.speakers] == ["A", "B"]
    with pytest.raises(NotFound):
        apply_edits(
            t,
            [
                {"op": "update_speaker", "speaker_id": "S1", "name": "A"},
                {"op": "delete_segment", "segment_id": "x"},
            ],
        )
    assert t.speaker("S1").name == "Anna"
    with pytest.raises(ValidationFailed):
        apply_edits(t, [])


def test_edit_one_word_keeps_its_timing_and_the_engines():
    from tapeworks.transcripts.editing import edit_word

    t = make_transcript()
    seg = t.segments[0]
    w = seg.words[2].model_copy(update={"engine_start": 0.5, "engine_end": 0.9})
    t.segments[0].words[2] = w
    new = edit_word(t, seg.id, 2, "Welcome,")
    got = new.segments[0].words[2]
    assert (got.text, got.start, got.end, got.confidence, got.engine_start) == (
        "Welcome,",
        w.start,
        w.end,
        w.confidence,
        0.5,
    )
    assert new.segments[0].words[:2] == seg.words[:2] and new.segments[0].words[3:] == seg.words[3:]
    assert new.version == t.version + 1 and t.segments[0].words[2].text == w.text
    two = edit_word(t, seg.id, 2, "well come")
    a, b = two.segments[0].words[2:4]
    assert (a.text, b.text) == ("well", "come") and a.start == w.start and b.end == w.end
    gone = edit_word(t, seg.id, 2, "  ")
    assert [x.text for x in gone.segments[0].words] == [
        x.text for x in seg.words if x is not seg.words[2]
    ]
    with pytest.raises(ValidationFailed):
        edit_word(t, seg.id, len(seg.words), "x")
    only = make_transcript([("S1", "Hi.")])
    assert edit_word(only, only.segments[0].id, 0, "").segments == []
    assert (
        apply_edits(
            t, [{"op": "edit_word", "segment_id": seg.id, "word_index": 0, "text": "Hallo"}]
        )
        .segments[0]
        .words[0]
        .text
        == "Hallo"
    )
