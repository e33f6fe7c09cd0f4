"""The fake engine with the default options (diarization on), as the job tests use it."""

from __future__ import annotations

from pathlib import Path

from tapeworks.speech.pipeline import TranscribeOptions, transcribe_file
from tests.helpers.audio import write_bursts


def test_fake_engine_with_real_diarization(tmp_path: Path) -> None:
    path = write_bursts(tmp_path / "b.wav", [(1.0, 3.0), (4.0, 7.5), (9.0, 12.0)], 14.0)
    t = transcribe_file(path, TranscribeOptions(engine="fake"))
    assert t.diarization.status == "ok"
    assert 1 <= len(t.speakers) <= 6 and all(s.role is None for s in t.speakers)
    assert {w.speaker for w in t.words()} <= {s.id for s in t.speakers}
    assert t.speakers[0].id == "S1"


def test_fake_engine_on_real_speech_finds_two_speakers(speech_dir: Path) -> None:
    t = transcribe_file(speech_dir / "sample.wav", TranscribeOptions(engine="fake"))
    assert t.diarization.status == "ok" and t.diarization.num_speakers == 2


def test_stages_are_told_as_they_happen(tmp_path: Path) -> None:
    """Loading the model, transcribing, finding speakers: in that order, each once."""
    path = write_bursts(tmp_path / "b.wav", [(1.0, 3.0), (4.0, 7.5), (9.0, 12.0)], 14.0)
    events: list[tuple[str, float]] = []
    done = [0.0]

    def progress(d: float, _total: float) -> None:
        done[0] = d

    t = transcribe_file(path, TranscribeOptions(engine="fake"), progress,
                        lambda name: events.append((name, done[0])))
    assert [e for e, _ in events] == ["loading_model", "transcribing", "finding_speakers"]
    assert events[-1][1] == max(d for _, d in events) > 10.0  # speakers come after the words
    assert t.diarization.status == "ok"
    one: list[str] = []
    transcribe_file(path, TranscribeOptions(engine="fake", num_speakers=1), None, one.append)
    assert one == ["loading_model", "transcribing"]
