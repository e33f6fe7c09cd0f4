from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tapeworks.transcripts.model import Word
from tapeworks.transcripts.segmentation import build_segments, join_words


def w(text, start, end, speaker="S1"):
    return Word(text=text, start=start, end=end, confidence=0.9, speaker=speaker)


def test_join_words_spacing():
    assert join_words([" Hello", ",", " world", "!"]) == "Hello, world!"
    assert join_words(["I", "don", "'t", "know", "(really)", "?"]) == "I don't know (really)?"
    assert join_words(["¿", "Qué", "tal", "?"]) == "¿Qué tal?"
    assert join_words(["日本", "語", "です", "。"]) == "日本語です。"
    assert join_words(["  ", "\n", " a\tb "]) == "a b"
    assert join_words([]) == ""


def test_splits_at_speaker_change_and_pause():
    words = [
        w(" Hi", 0.0, 0.3),
        w(" there", 0.3, 0.6),
        w(" Hello", 0.7, 1.0, "S2"),
        w(" again", 2.5, 2.8, "S2"),  # 1.5 s pause
    ]
    segs = build_segments(words)
    assert [(s.id, s.speaker, s.text, s.start, s.end) for s in segs] == [
        ("seg-0001", "S1", "Hi there", 0.0, 0.6),
        ("seg-0002", "S2", "Hello", 0.7, 1.0),
        ("seg-0003", "S2", "again", 2.5, 2.8),
    ]
    assert words[0].text == " Hi"  # input untouched
    assert [x.text for x in segs[0].words] == ["Hi", "there"]


def test_sentence_end_splits_only_long_segments():
    short = [w(" One.", 0, 0.3), w(" Two.", 0.4, 0.7)]
    assert len(build_segments(short)) == 1
    long_ = [w(f" w{i}", i * 0.5, i * 0.5 + 0.4) for i in range(12)]
    long_[11] = w(" end.", 5.5, 5.9)
    long_.append(w(" Next", 6.0, 6.3))
    segs = build_segments(long_)
    assert [s.text.split()[-1] for s in segs] == ["end.", "Next"]


def test_max_duration_caps_segments():
    words = [w(f" w{i}", i * 0.5, i * 0.5 + 0.5) for i in range(100)]
    segs = build_segments(words, max_duration=10.0)
    assert all(s.end - s.start <= 10.0 for s in segs)
    assert [x for s in segs for x in s.words] == [
        x.model_copy(update={"text": x.text.strip()}) for x in words
    ]
    assert [s.id for s in segs][-1] == f"seg-{len(segs):04d}"


def test_drops_empty_words_and_fixes_inverted_times():
    segs = build_segments([w(" ", 0, 0.1), w("a", 0.2, 0.1), w("b", 0.3, 0.5)])
    assert segs[0].text == "a b" and segs[0].words[0].end == 0.2


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([" a", " b.", " c?", "d", ","]),
            st.floats(0, 2),
            st.floats(0, 1),
            st.sampled_from(["S1", "S2"]),
        ),
        max_size=50,
    )
)
def test_property_segments_partition_words(raw):
    words, t = [], 0.0
    for text, gap, dur, spk in raw:
        words.append(w(text, t + gap, t + gap + dur, spk))
        t += gap + dur
    segs = build_segments(words)
    flat = [x for s in segs for x in s.words]
    assert [x.start for x in flat] == [x.start for x in words]
    for s in segs:
        assert len({x.speaker for x in s.words}) == 1 and s.speaker == s.words[0].speaker
        assert s.end - s.start <= 30.0 or len(s.words) == 1
        assert all(b.start - a.end <= 1.0 for a, b in zip(s.words, s.words[1:], strict=False))
    assert len({s.id for s in segs}) == len(segs)
