"""Episode production: edit list, cleaning, loudness, mixing, rendering, encoding.

Public API:
- `produce(source, transcript, out_path, *, cleaning, loudness, template, render,
  speech_regions, progress) -> ProduceResult` (pipeline.py)
- settings: `CleaningSettings`, `UserCut`, `LoudnessSettings`, `Template`, `RenderSettings`
- `EditList`, `Cut` (editlist.py); `build_edit_list` (cleaning.py);
  `retime_transcript` (retime.py)
- `register(app)` adds `tapeworks produce` to a Typer app (cli.py)

Everything streams in bounded blocks (DESIGN rule 11) and one edit list drives both the
audio and the word timings (rule 12).
"""

from tapeworks.production.cleaning import build_edit_list
from tapeworks.production.editlist import Cut, EditList
from tapeworks.production.pipeline import ProduceResult, produce
from tapeworks.production.retime import retime_transcript
from tapeworks.production.settings import (
    CleaningSettings,
    LoudnessSettings,
    RenderSettings,
    Template,
    UserCut,
)

__all__ = [
    "CleaningSettings",
    "Cut",
    "EditList",
    "LoudnessSettings",
    "ProduceResult",
    "RenderSettings",
    "Template",
    "UserCut",
    "build_edit_list",
    "produce",
    "retime_transcript",
]
