"""Where the project's shared data and tools are: `../shared` beside the project root."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
SPEECH_DIR = SHARED / "data" / "speech"
TOOLS_DIR = SHARED / "tools"
JFK = SPEECH_DIR / "jfk.flac"
SAMPLE = SPEECH_DIR / "sample.wav"
