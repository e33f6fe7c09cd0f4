from __future__ import annotations

from pathlib import Path

import typer
from typer.testing import CliRunner

from tapeworks.production.cli import register
from tapeworks.transcripts.model import Segment, Transcript, Word


def test_produce_command_writes_audio_and_retimed_transcript(tmp_path: Path, jfk: Path) -> None:
    app = typer.Typer()
    register(app)

    @app.command()
    def version() -> None:  # a second command keeps `produce` a named subcommand
        pass

    words = [Word(text="and", start=0.3, end=0.6), Word(text="um", start=1.0, end=1.3), Word(text="ask", start=7.0, end=7.5)]
    doc = tmp_path / "t.json"
    doc.write_text(Transcript(segments=[Segment(id="s", start=0.3, end=7.5, text="and um ask", words=words)]).model_dump_json())
    out = tmp_path / "ep.wav"
    result = CliRunner().invoke(app, ["produce", str(jfk), "--transcript", str(doc), "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert out.exists()
    retimed = Transcript.model_validate_json((tmp_path / "ep.transcript.json").read_text())
    # The made-up timings claim an "um" at 1.0-1.3 s and a 5.7 s pause before "ask", but
    # the audio there is "my fellow Americans ask not what your country ...": the audio
    # check keeps all of it, lists the filler cut as kept, and nothing is lost.
    assert [w.text for w in retimed.words()] == ["and", "um", "ask"]
    assert abs(retimed.words()[2].start - 7.0) < 0.05
    assert "kept: speech found" in result.output
    assert abs(retimed.duration - 11.0) < 0.3
