"""`tapeworks produce`: local episode production with a progress bar.

The main CLI registers it with `tapeworks.production.cli.register(app)`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from tapeworks.errors import TapeworksError
from tapeworks.production.pipeline import (
    CleaningSettings,
    LoudnessSettings,
    ProduceResult,
    RenderSettings,
    Template,
    produce,
)
from tapeworks.transcripts.model import Transcript

_console = Console(stderr=True)


def register(app: typer.Typer, open_runtime: Callable[[], Any] | None = None) -> None:
    app.command("produce")(produce_command)


def produce_command(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Source recording.")],
    transcript: Annotated[Path, typer.Option("--transcript", exists=True, dir_okay=False, help="Transcript JSON (source time).")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Episode audio (default FILE.episode.FORMAT).")] = None,
    intro: Annotated[Path | None, typer.Option(exists=True, dir_okay=False)] = None,
    outro: Annotated[Path | None, typer.Option(exists=True, dir_okay=False)] = None,
    music: Annotated[Path | None, typer.Option(exists=True, dir_okay=False, help="Music bed, ducked under speech.")] = None,
    target_lufs: Annotated[float | None, typer.Option(help="Loudness target (default -16 stereo, -19 mono).")] = None,
    no_fillers: Annotated[bool, typer.Option("--no-fillers", help="Keep filler words.")] = False,
    max_pause: Annotated[float, typer.Option(help="Pauses longer than this are shortened.")] = 1.5,
    fmt: Annotated[str | None, typer.Option("--format", help="mp3, m4a or wav (default from --output).")] = None,
    title: Annotated[str | None, typer.Option()] = None,
    show: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Cut fillers and long pauses, level loudness, add intro/outro/music, encode."""
    try:
        doc = Transcript.model_validate_json(transcript.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise typer.BadParameter(f"cannot read transcript: {exc}") from exc
    chosen = fmt or (output.suffix.lstrip(".").lower() if output and output.suffix else "mp3")
    out = output or file.with_name(f"{file.stem}.episode.{chosen}")
    cleaning = CleaningSettings(remove_fillers=not no_fillers, max_pause_seconds=max_pause,
                                target_pause_seconds=min(0.5, max_pause))
    try:
        result = _run(file, doc, out, cleaning, LoudnessSettings(target_lufs=target_lufs),
                      Template(intro=intro, outro=outro, music=music),
                      RenderSettings(format=chosen, title=title, show=show))  # type: ignore[arg-type]
    except TapeworksError as exc:
        _console.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from exc
    side = out.with_name(out.stem + ".transcript.json")
    side.write_text(result.transcript.model_dump_json(indent=2), encoding="utf-8")
    _console.print(f"[green]wrote[/green] {out} ({result.duration_seconds:.1f} s) and {side}")
    _console.print(json.dumps({"loudness": result.loudness, "cuts": result.cuts,
                               "kept": [c.to_dict() for c in result.edit_list.kept]}, indent=2))


def _run(
    file: Path,
    doc: Transcript,
    out: Path,
    cleaning: CleaningSettings,
    loudness: LoudnessSettings,
    template: Template,
    render: RenderSettings,
) -> ProduceResult:
    columns = (TextColumn("{task.description:<10}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"), TimeElapsedColumn())
    with Progress(*columns, console=_console) as bar:
        task = bar.add_task("analysing", total=1.0)

        def update(stage: str, fraction: float) -> None:
            bar.update(task, completed=fraction, description=stage)

        return produce(file, doc, out, cleaning=cleaning, loudness=loudness, template=template,
                       render=render, progress=update)
