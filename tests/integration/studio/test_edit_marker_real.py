"""A real recording with a spoken edit marker, through Whisper base and the renderer.

espeak-ng says "I was born in nineteen ninety flubber I was born in nineteen eighty";
Whisper base (no hotword) writes the marker as "Flummer,". The marker edit must find
it anyway, and the rendered episode, transcribed again, says only the second phrase.
"""

from __future__ import annotations

from pathlib import Path

import jiwer
import pytest

from tapeworks.production.markers import marker_edits, with_marker_hotword
from tapeworks.production.pipeline import (
    CleaningSettings,
    LoudnessSettings,
    RenderSettings,
    produce,
)
from tapeworks.speech.pipeline import TranscribeOptions, transcribe_file

from .conftest import espeak

pytestmark = pytest.mark.slow

SAID = "I was born in nineteen ninety flubber I was born in nineteen eighty"


def _norm(text: str) -> str:
    return " ".join(jiwer.RemovePunctuation()(text.lower()).split())


def test_spoken_marker_cuts_the_phrase_before_it(tmp_path: Path, model_dir: Path) -> None:
    recording = espeak(tmp_path / "marker.wav", SAID)
    options = TranscribeOptions(model="base", model_dir=str(model_dir), num_speakers=1)
    transcript = transcribe_file(recording, options)
    heard = _norm(transcript.text())
    assert "1990" in heard and "1980" in heard, heard

    words = transcript.words()
    [edit] = marker_edits(words, "flubber", duration=transcript.duration)
    assert _norm(edit.marker_text).startswith("fl")
    assert _norm(edit.removed_text) == "i was born in 1990", edit

    # the default cleaning settings cut the marker and the phrase before it
    result = produce(recording, transcript, tmp_path / "episode.wav",
                     cleaning=CleaningSettings(shorten_pauses=False, remove_fillers=False),
                     loudness=LoudnessSettings(enabled=False), render=RenderSettings(format="wav"))
    [cut] = result.edit_list.cuts
    assert cut.kind == "marker" and _norm(cut.reason) == "edit marker i was born in 1990"
    assert cut.start == pytest.approx(edit.start, abs=0.05) and cut.end == pytest.approx(edit.end, abs=0.05)
    assert _norm(result.transcript.text()) == "i was born in 1980"
    again = transcribe_file(result.output_path, options)
    assert _norm(again.text()) == "i was born in 1980", again.text()

    # without the marker cut (what restoring it renders) the first phrase is back
    whole = produce(recording, transcript, tmp_path / "restored.wav",
                    cleaning=CleaningSettings(shorten_pauses=False, remove_fillers=False,
                                              edit_marker=None),
                    loudness=LoudnessSettings(enabled=False), render=RenderSettings(format="wav"))
    assert whole.edit_list.cuts == ()
    back = _norm(transcribe_file(whole.output_path, options).text())
    assert back.startswith("i was born in 1990") and back.endswith("i was born in 1980"), back


def test_the_marker_as_a_hotword_is_written_as_said(tmp_path: Path, model_dir: Path) -> None:
    """What Whisper base writes for the spoken marker, without and with the hotword."""
    recording = espeak(tmp_path / "marker.wav", SAID)
    heard = {}
    for hotwords in (None, with_marker_hotword(None, "flubber")):
        options = TranscribeOptions(model="base", model_dir=str(model_dir), num_speakers=1,
                                    hotwords=hotwords)
        words = transcribe_file(recording, options).words()
        [edit] = marker_edits(words, "flubber")  # found either way: matching is tolerant
        heard[hotwords] = _norm(edit.marker_text)
        assert _norm(edit.removed_text) == "i was born in 1990"
    assert heard["flubber"] == "flubber", heard
    assert heard[None] != "flubber", heard  # base alone writes e.g. "flummer"
