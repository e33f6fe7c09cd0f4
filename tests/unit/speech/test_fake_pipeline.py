"""The fake engine through the real pipeline: what other teams' job tests rely on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tapeworks.errors import EngineError, InvalidAudio
from tapeworks.speech import diarization, pipeline
from tapeworks.speech.pipeline import TranscribeOptions, transcribe, transcribe_file
from tapeworks.speech.voice_encoder import encoder as voice_encoder_module
from tests.helpers.audio import write_bursts

BURSTS = [(1.0, 2.0), (3.5, 6.0), (40.0, 41.0), (70.0, 72.5)]


@pytest.fixture
def bursts(tmp_path: Path) -> Path:
    return write_bursts(tmp_path / "bursts.wav", BURSTS, 80.0)


def test_fake_engine_words_follow_voiced_regions(bursts: Path) -> None:
    calls: list[tuple[float, float]] = []
    t = transcribe_file(bursts, TranscribeOptions(engine="fake", diarize=False),
                        lambda done, total: calls.append((done, total)))
    words = t.words()
    assert words and {w.text for w in words} == {"speech"}
    for w in words:
        assert any(s - 0.05 <= w.start and w.end <= e + 0.05 for s, e in BURSTS), w
    assert t.model is not None and (t.model.engine, t.model.name, t.model.source) == ("fake", "fake", "builtin")
    assert t.diarization.status == "disabled"
    assert [s.name for s in t.speakers] == ["Speaker 1"] and t.speakers[0].role is None
    assert t.duration == pytest.approx(80.0, abs=0.01)
    # progress: monotonic, several steps, ends at the total
    dones = [d for d, _ in calls]
    assert dones == sorted(dones) and len(calls) >= 3
    assert calls[-1][0] == calls[-1][1] == pytest.approx(80.0, abs=0.01)
    assert all(0 <= d <= tot for d, tot in calls)


def test_fake_engine_is_deterministic(bursts: Path) -> None:
    options = TranscribeOptions(engine="fake", diarize=False)
    assert transcribe_file(bursts, options) == transcribe_file(bursts, options)


def test_fake_realtime_factor_sleeps_per_audio_second(bursts: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr("tapeworks.speech.engines.fake.time.sleep", slept.append)
    transcribe_file(bursts, TranscribeOptions(engine="fake", diarize=False, fake_realtime_factor=0.5))
    assert sum(slept) == pytest.approx(0.5 * 80.0, rel=0.01)


def test_diarization_unavailable_is_recorded_not_guessed(bursts: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(voice_encoder_module, "_loaded", {})  # as in a fresh process
    monkeypatch.setattr(voice_encoder_module, "MODEL_FILE", "not-installed.onnx")
    t = transcribe_file(bursts, TranscribeOptions(engine="fake"))
    reason = t.diarization.reason or ""
    assert t.diarization.status == "unavailable"
    assert "voice model" in reason and "missing or damaged" in reason and "reinstall" in reason
    assert ".onnx" not in reason and "/" not in reason  # no file names or paths for the user
    assert len(t.speakers) == 1 and t.speakers[0].role is None
    assert {w.speaker for w in t.words()} == {"S1"}


def test_single_speaker_requested_skips_clustering_but_keeps_the_voice(
        bursts: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One speaker asked for: nothing is clustered (every word S1), but the voice is
    embedded so a known voice can be recognised; an encoder that cannot load is then no
    failure (still "single")."""
    monkeypatch.setattr(diarization, "find_speakers",
                        lambda *a, **k: pytest.fail("clustered"))  # type: ignore[arg-type]
    done = transcribe(bursts, TranscribeOptions(engine="fake", num_speakers=1))
    assert done.transcript.diarization.status == "single"
    assert {w.speaker for w in done.transcript.words()} == {"S1"}
    assert [v.speaker_id for v in done.voices] == ["S1"] and len(done.voices[0].embedding) == 256
    monkeypatch.setattr(voice_encoder_module, "_loaded", {})
    monkeypatch.setattr(voice_encoder_module, "MODEL_FILE", "not-installed.onnx")
    done = transcribe(bursts, TranscribeOptions(engine="fake", num_speakers=1))
    assert done.transcript.diarization.status == "single" and done.voices == ()


def test_undecodable_audio_raises_invalid_audio(tmp_path: Path) -> None:
    bad = tmp_path / "x.wav"
    bad.write_bytes(b"RIFF nonsense" * 50)
    with pytest.raises(InvalidAudio):
        transcribe_file(bad, TranscribeOptions(engine="fake"))


def test_unknown_engine_is_an_engine_error(bursts: Path) -> None:
    with pytest.raises(EngineError, match="unknown speech engine"):
        transcribe_file(bursts, TranscribeOptions(engine="nope"))


def test_cli_transcribe_prints_json(bursts: Path) -> None:
    import typer

    from tapeworks.speech.cli import register

    app = typer.Typer()
    register(app)
    app.command("noop")(lambda: None)  # keep typer in multi-command mode
    result = CliRunner().invoke(app, ["transcribe", str(bursts), "--engine", "fake", "--speakers", "1"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout[result.stdout.index("{"):])
    assert body["model"]["engine"] == "fake" and body["segments"]


def test_cli_writes_srt_through_the_exporters(bursts: Path, tmp_path: Path) -> None:
    import typer

    from tapeworks.speech.cli import register

    app = typer.Typer()
    register(app)
    app.command("noop")(lambda: None)
    out = tmp_path / "out.srt"
    args = ["transcribe", str(bursts), "--engine", "fake", "--speakers", "1", "--format", "srt", "-o", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert text.startswith("1\n00:00:01,0") and "-->" in text


def test_cli_reports_engine_errors_readably(bursts: Path, tmp_path: Path) -> None:
    import typer

    from tapeworks.speech.cli import register

    app = typer.Typer()
    register(app)
    app.command("noop")(lambda: None)
    result = CliRunner().invoke(app, ["transcribe", str(bursts), "--model-path", str(tmp_path / "none")])
    assert result.exit_code == 1
    assert "explicit model path" in result.output


def test_pipeline_module_exports_public_names() -> None:
    assert pipeline.TranscribeOptions is TranscribeOptions
