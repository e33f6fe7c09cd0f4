"""Spoken edit markers on word lists: what is matched and how far back the cut reaches."""

from __future__ import annotations

import pytest

from tapeworks.production.markers import (
    find_markers,
    marker_edits,
    sound_key,
    sounds_like,
    with_marker_hotword,
)
from tapeworks.transcripts.model import Word


def words(spec: str, speaker: str = "S1", gap: float = 0.1, length: float = 0.3,
          start: float = 0.0) -> list[Word]:
    """Words from text; '|' adds a 0.6 s pause before the next word."""
    out: list[Word] = []
    t = start
    for token in spec.split():
        if token == "|":
            t += 0.6
            continue
        out.append(Word(text=token, start=round(t, 3), end=round(t + length, 3), speaker=speaker))
        t += length + gap
    return out


@pytest.mark.parametrize("heard", ["flubber", "Flubber.", "FLUBBER!", "Flummer,", "flurber", "Flueber"])
def test_what_whisper_writes_for_flubber_matches(heard: str) -> None:
    assert sounds_like(heard, "flubber")


@pytest.mark.parametrize("other", ["flutter", "flower", "rubber", "flubbed", "blubber", "flub", "fiber"])
def test_real_words_near_it_do_not(other: str) -> None:
    assert not sounds_like(other, "flubber")


def test_sound_key_folds_alike_consonants() -> None:
    assert sound_key("flummer") == sound_key("flubber") == "flBr"
    assert sound_key("Phil") == sound_key("fill")


def test_the_marker_and_the_phrase_back_to_the_pause_are_cut() -> None:
    ws = words("We moved in spring | I was born in nineteen ninety flubber I was born in nineteen eighty")
    [edit] = marker_edits(ws)
    texts = [ws[i].text for i in edit.word_indices]
    assert texts == ["I", "was", "born", "in", "nineteen", "ninety", "flubber"]
    assert edit.removed_text == "I was born in nineteen ninety" and edit.marker_text == "flubber"
    assert edit.reason == 'edit marker: "I was born in nineteen ninety"'
    first, marker, nxt, prev = ws[4], ws[10], ws[11], ws[3]
    assert prev.end < edit.start <= first.start  # reaches into the pause, not into "spring"
    assert edit.start >= first.start - 0.15
    assert marker.end <= edit.end < nxt.start  # up to the next word, never into it


def test_a_full_stop_before_the_marker_does_not_end_the_phrase() -> None:
    ws = words("So. I was born in nineteen ninety. Flubber. I was born in nineteen eighty.")
    [edit] = marker_edits(ws)
    assert edit.removed_text == "I was born in nineteen ninety."  # back to "So."


def test_the_sentence_start_ends_the_phrase() -> None:
    ws = words("That was fun. We went home flubber we went back")
    [edit] = marker_edits(ws)
    assert edit.removed_text == "We went home"


def test_a_pause_found_by_the_detector_ends_the_phrase_when_the_words_hide_it() -> None:
    # 0.7 s of silence after "spring", but the engine stretched "spring" over it
    ws = words("we moved in spring | I was born flubber I was born")
    spring, i_word = ws[3], ws[4]
    real_end = spring.end
    ws[3] = spring.model_copy(update={"end": i_word.start - 0.02})
    assert marker_edits(ws)[0].removed_text == "we moved in spring I was born"
    speech = [(0.0, real_end), (i_word.start - 0.02, 10.0)]
    [edit] = marker_edits(ws, speech_regions=speech)
    assert edit.removed_text == "I was born"


def test_marker_setting_none_or_another_word() -> None:
    ws = words("I said it wrong scratch I said it right")
    assert marker_edits(ws, None) == []
    assert marker_edits(ws) == []
    [edit] = marker_edits(ws, "scratch")
    assert edit.removed_text == "I said it wrong"


def test_two_markers_never_reach_into_each_other() -> None:
    ws = words("one two flubber three four flubber five")
    assert find_markers(ws, "flubber") == [(2, 2), (5, 5)]  # not "four flubber" run together
    first, second = marker_edits(ws)
    assert first.removed_text == "one two" and second.removed_text == "three four"
    assert first.end <= second.start


def test_marker_at_the_very_start_or_end() -> None:
    [edit] = marker_edits(words("flubber hello there"))
    assert edit.removed_text == "" and edit.word_indices == (0,)
    ws = words("hello there flubber")
    [edit] = marker_edits(ws, duration=ws[-1].end + 0.05)
    assert edit.removed_text == "hello there" and edit.end == pytest.approx(ws[-1].end + 0.05)


def test_a_marker_split_in_two_words_is_found() -> None:
    ws = words("I was wrong flub ber I was right")
    assert find_markers(ws, "flubber") == [(3, 4)]
    [edit] = marker_edits(ws)
    assert edit.marker_text == "flub ber" and edit.removed_text == "I was wrong"


def test_another_speaker_in_a_gap_ends_the_phrase_and_over_speech_is_crosstalk() -> None:
    host = words("so I was born in nineteen ninety flubber I was born", speaker="S1")
    # the guest says "right" in the gap between "so" and "I" (a turn) ...
    turn = Word(text="right", start=host[0].end + 0.01, end=host[1].start - 0.01, speaker="S2")
    # ... and "mm" over "nineteen" (crosstalk)
    over = Word(text="mm", start=host[5].start, end=host[5].end, speaker="S2")
    merged = sorted([*host, turn, over], key=lambda w: w.start)
    [edit] = marker_edits(merged)
    assert edit.removed_text == "I was born in nineteen ninety"
    assert [merged[i].text for i in edit.crosstalk_indices] == ["mm"]
    assert all(merged[i].speaker == "S1" for i in edit.word_indices)
    assert edit.start >= turn.end  # the turn is kept


def test_the_marker_goes_into_the_hotwords_once() -> None:
    assert with_marker_hotword(None, "flubber") == "flubber"
    assert with_marker_hotword("Tapeworks Auphonic", "flubber") == "Tapeworks Auphonic flubber"
    assert with_marker_hotword("Flubber", "flubber") == "Flubber"
    assert with_marker_hotword("Tapeworks", None) == "Tapeworks"


def test_a_number_before_the_marker_is_not_part_of_it() -> None:
    ws = words("I was born in 1990 flubber I was born in 1980")
    assert find_markers(ws, "flubber") == [(5, 5)]
    assert marker_edits(ws)[0].removed_text == "I was born in 1990"
