"""`tapeworks transcribe FILE`: the same pipeline as the workers, locally, no server."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from tapeworks.errors import TapeworksError
from tapeworks.speech.pipeline import TranscribeOptions, transcribe_file
from tapeworks.transcripts.exporters import export
from tapeworks.transcripts.model import Transcript

FORMATS = ("json", "txt", "srt", "vtt")


def _render(transcript: Transcript, fmt: str, title: str) -> bytes:
    if fmt == "json":
        return transcript.model_dump_json(indent=2).encode()
    return export(transcript, fmt, title=title).content


def _run(file: Path, options: TranscribeOptions, console: Console) -> Transcript:
    columns = (
        TextColumn("[bold]transcribing"), BarColumn(),
        TextColumn("{task.completed:.0f}/{task.total:.0f} s of audio"), TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("transcribe", total=1.0)

        def progress(done: float, total: float) -> None:
            bar.update(task, completed=done, total=max(total, done, 1.0))

        return transcribe_file(file, options, progress)


def transcribe(
    file: Annotated[Path, typer.Argument(help="Audio file (wav, flac, mp3, ogg, opus, m4a, ...)")],
    model: Annotated[str, typer.Option(help="Whisper model name (base, tiny.en, ...)")] = "base",
    model_path: Annotated[Path | None, typer.Option(help="Explicit model directory")] = None,
    model_dir: Annotated[Path | None, typer.Option(help="Model cache directory")] = None,
    speakers: Annotated[int | None, typer.Option(help="Number of speakers (default: estimate)")] = None,
    language: Annotated[str | None, typer.Option(help="Language code (default: detect)")] = None,
    fmt: Annotated[str, typer.Option("--format", help="json, txt, srt or vtt")] = "json",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write here, not stdout")] = None,
    engine: Annotated[str, typer.Option(help="whisper or fake")] = "whisper",
) -> None:
    """Transcribe FILE with word timings and speakers, printing the transcript."""
    from tapeworks.logging import configure_logging

    configure_logging("INFO", json=False)  # logs to stderr; stdout is the transcript
    console = Console(stderr=True)
    if fmt not in FORMATS:
        raise typer.BadParameter(f"--format must be one of {', '.join(FORMATS)}")
    options = TranscribeOptions(
        engine=engine, model=model, language=language, num_speakers=speakers,
        model_path=str(model_path) if model_path else None,
        model_dir=str(model_dir) if model_dir else None,
    )
    try:
        transcript = _run(file, options, console)
    except TapeworksError as exc:
        console.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from exc
    content = _render(transcript, fmt, file.stem)
    if output is None:
        sys.stdout.buffer.write(content if content.endswith(b"\n") else content + b"\n")
        sys.stdout.flush()
    else:
        output.write_bytes(content)
        console.print(f"wrote {output}")
    model_info = transcript.model
    if model_info is not None:
        console.print(f"model: {model_info.engine} {model_info.name} ({model_info.source})")


def register(app: typer.Typer, open_runtime: Callable[[], Any] | None = None) -> None:
    app.command("transcribe")(transcribe)
