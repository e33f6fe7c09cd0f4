"""How many speakers the pipeline finds when not told, and that a given count overrides it.

Real speech (JFK, the two callers of sample.wav) and espeak-ng voices (tests/helpers/speakers.py).
The fake engine puts one word per 0.5 s of speech, so these run without a speech model;
the interjection test uses Whisper base (the default model) for real words.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from tapeworks.speech.pipeline import TranscribeOptions, transcribe_file
from tapeworks.speech.scoring import Turn, read_stm, speaker_accuracy
from tapeworks.transcripts.model import Transcript
from tests.helpers import speakers as voices
from tests.helpers.speakers import Recording


def _fake(path: Path, **kw: object) -> Transcript:
    return transcribe_file(path, TranscribeOptions(engine="fake", **kw))  # type: ignore[arg-type]


def _majority(t: Transcript, turn: Turn) -> str | None:
    inside = [w.speaker for w in t.words() if turn.start <= (w.start + w.end) / 2 <= turn.end]
    return Counter(inside).most_common(1)[0][0] if inside else None


def _turn_labels_match(t: Transcript, rec: Recording) -> float:
    """Share of reference turns whose words are mostly labelled with that turn's speaker,
    under the mapping from reference speakers to ours that the long turns vote for."""
    votes: dict[str, Counter[str]] = {}
    for turn in rec.turns:
        label = _majority(t, turn)
        if label is not None:
            votes.setdefault(turn.speaker, Counter())[label] += 1
    mapping = {ref: c.most_common(1)[0][0] for ref, c in votes.items()}
    labelled = [(turn, _majority(t, turn)) for turn in rec.turns]
    return sum(label == mapping[turn.speaker] for turn, label in labelled) / len(labelled)


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory, speech_dir: Path) -> dict[str, tuple[Path, Recording]]:
    folder = tmp_path_factory.mktemp("voices")
    kennedy = voices.jfk(speech_dir)
    recordings = [
        voices.loop(kennedy, 600, "jfk-10min"),
        voices.dialogue(["en-us+Andy", "en-029+f4"], 10),
        voices.dialogue(["en-us+Andy", "en-029+f4", "en-gb+m7"], 12),
        voices.dialogue(["en+klatt4", "en-gb-scotland+f2", "en-us+Andy"], 12, interject=True),
    ]
    return {r.name: (r.write(folder / f"{i}.wav"), r) for i, r in enumerate(recordings)}


def test_one_voice_short_is_one_speaker(speech_dir: Path) -> None:
    t = _fake(speech_dir / "jfk.flac")
    assert (t.diarization.status, t.diarization.num_speakers) == ("ok", 1)
    assert [s.id for s in t.speakers] == ["S1"]


@pytest.mark.slow
def test_one_voice_long_is_one_speaker(made: dict[str, tuple[Path, Recording]]) -> None:
    path, _ = made["jfk-10min"]
    t = _fake(path)
    assert (t.diarization.status, t.diarization.num_speakers) == ("ok", 1)
    assert {w.speaker for w in t.words()} == {"S1"}


def test_two_real_voices_are_two_speakers(speech_dir: Path) -> None:
    t = _fake(speech_dir / "sample.wav")
    assert (t.diarization.status, t.diarization.num_speakers) == ("ok", 2)
    # pseudo-words every 0.5 s (no sentence ends): real words are scored in test_real_speech
    assert speaker_accuracy(t.words(), voices.sample_call(speech_dir).turns) >= 0.8


def test_two_synthetic_voices_are_two_speakers(made: dict[str, tuple[Path, Recording]]) -> None:
    path, rec = made["espeak Andy+f4 10 turns"]
    t = _fake(path)
    assert t.diarization.num_speakers == 2
    assert _turn_labels_match(t, rec) == 1.0


@pytest.mark.parametrize("name", [
    "espeak Andy+f4+m7 12 turns", "espeak klatt4+f2+Andy 12 turns interjections",
])
def test_three_voices_are_three_speakers(made: dict[str, tuple[Path, Recording]], name: str) -> None:
    path, rec = made[name]
    t = _fake(path)
    assert t.diarization.num_speakers == 3
    assert [s.id for s in t.speakers] == ["S1", "S2", "S3"]
    assert _turn_labels_match(t, rec) == 1.0  # the short interjections included


def test_a_given_count_overrides_the_estimate(made: dict[str, tuple[Path, Recording]]) -> None:
    path, _ = made["espeak Andy+f4+m7 12 turns"]
    t = _fake(path, num_speakers=2)
    assert t.diarization.num_speakers == 2 and t.diarization.reason is None
    assert _fake(path, num_speakers=1).diarization.status == "single"


def test_asking_for_more_speakers_than_can_be_told_apart_says_so(tmp_path: Path) -> None:
    short = voices.join("one sentence", [("a", voices.speak("Right, thank you.", "en-us+Andy"))])
    t = _fake(short.write(tmp_path / "short.wav"), num_speakers=2)
    assert t.diarization.status == "ok" and t.diarization.num_speakers == 1
    assert "2 speakers were asked for" in (t.diarization.reason or "")
    assert "too little clear speech" in (t.diarization.reason or "")


@pytest.mark.slow
def test_the_interjection_in_sample_wav_gets_its_own_speaker(speech_dir: Path, model_dir: Path) -> None:
    """"Neither did I." (Sheila, under a second, between two turns of Diane's with no pause),
    with the default model (base): its sentence ends delimit the utterances that are
    labelled one by one."""
    t = transcribe_file(speech_dir / "sample.wav", TranscribeOptions(model="base", model_dir=str(model_dir)))
    stm = read_stm(speech_dir / "sample.stm")
    interjection = next(turn for turn in stm if turn.text == "Neither did I.")
    words = [w for w in t.words() if interjection.start <= (w.start + w.end) / 2 <= interjection.end]
    # What base writes for these three words depends on the machine ("neither did I" on
    # one, "I needed...to design" on this one): this test is about who said
    # them, so it asks for words in the span, not for their spelling.
    assert len(words) >= 2, [w.text for w in t.words()]
    sheila = _majority(t, next(turn for turn in stm if turn.text.startswith("And I'm Sheila")))
    diane = _majority(t, next(turn for turn in stm if turn.text.startswith("This is Diane")))
    assert sheila != diane
    assert {w.speaker for w in words} == {sheila}
