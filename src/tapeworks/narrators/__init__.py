"""Narrators: text-to-speech engines behind one interface (see base.py).

Public API:
- `Narrators(engines)`: `list()`, `default()`, `resolve(id)`, `narrate(id, text, out_dir)`
- engines: `PiperEngine` (neural, optional extra), `EspeakEngine` (fallback),
  `CloudNarrationEngine` (ElevenLabs-style HTTP API)
- `build_narrators(...)`: the engines of a deployment, most preferred first
- errors: `UnknownNarrator` (422), `NarrationFailed` (502); `MAX_TEXT_CHARS`

Infrastructure: imports no domain.
"""

from __future__ import annotations

from pathlib import Path

from tapeworks.narrators.base import (
    MAX_TEXT_CHARS,
    Narration,
    NarrationEngine,
    NarrationFailed,
    NarratorInfo,
    Narrators,
    UnknownNarrator,
    check_text,
)
from tapeworks.narrators.cloud import CloudNarrationEngine
from tapeworks.narrators.espeak import EspeakEngine
from tapeworks.narrators.piper import PiperEngine


def build_narrators(
    *,
    cloud_url: str | None = None,
    cloud_api_key: str | None = None,
    piper_voice_dir: Path | None = None,
) -> Narrators:
    """Neural first, then the cloud service when configured, espeak-ng last (the fallback)."""
    engines: list[NarrationEngine] = [PiperEngine(voice_dir=piper_voice_dir)]
    if cloud_url and cloud_api_key:
        engines.append(CloudNarrationEngine(cloud_url, cloud_api_key))
    engines.append(EspeakEngine())
    return Narrators(engines)


__all__ = [
    "MAX_TEXT_CHARS",
    "CloudNarrationEngine",
    "EspeakEngine",
    "Narration",
    "NarrationEngine",
    "NarrationFailed",
    "NarratorInfo",
    "Narrators",
    "PiperEngine",
    "UnknownNarrator",
    "build_narrators",
    "check_text",
]
