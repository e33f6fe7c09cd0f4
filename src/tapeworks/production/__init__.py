"""Episode production: edit list, cleaning, loudness, mixing, rendering, encoding.

Modules (import what you use; this package imports nothing itself):
- `produce(source, transcript, out_path, *, cleaning, loudness, template, render,
  speech_regions, progress) -> ProduceResult` (pipeline.py)
- settings: `CleaningSettings`, `UserCut`, `LoudnessSettings`, `Template`, `RenderSettings`
- `EditList`, `Cut` (editlist.py); `build_edit_list` (cleaning.py);
  `retime_transcript` (retime.py)
- `register(app)` adds `tapeworks produce` to a Typer app (cli.py)

Everything streams in bounded blocks (DESIGN rule 11) and one edit list drives both the
audio and the word timings (rule 12).
"""
