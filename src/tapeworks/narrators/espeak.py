"""espeak-ng (Debian package `espeak-ng`, GPL-3.0, run as a separate program): the fallback.

Formant synthesis: robotic, but it is small, offline and always installable, so a
deployment without the neural engine still renders speech assets. The text goes in
on standard input (never on the command line), the WAV comes out at 22.05 kHz mono.
"""

from __future__ import annotations

import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

import structlog

from tapeworks.narrators.base import Narration, NarrationFailed, NarratorInfo, UnknownNarrator

log = structlog.get_logger("tapeworks.narrators")

# narrator id -> (espeak-ng voice, name, language)
VOICES: dict[str, tuple[str, str, str]] = {
    "espeak-en-us": ("en-us", "eSpeak US English", "en-US"),
    "espeak-en-us-female": ("en-us+f3", "eSpeak US English (female)", "en-US"),
    "espeak-en-gb": ("en-gb", "eSpeak British English", "en-GB"),
}


@dataclass
class EspeakEngine:
    binary: str = "espeak-ng"
    words_per_minute: int = 150
    timeout_seconds: float = 120.0
    name: str = "espeak"

    def _path(self) -> str | None:
        return shutil.which(self.binary)

    def available(self) -> bool:
        return self._path() is not None

    def narrators(self) -> list[NarratorInfo]:
        return [
            NarratorInfo(id=k, name=name, engine=self.name, language=lang,
                         description="eSpeak NG formant synthesis (robotic, always available)")
            for k, (_, name, lang) in VOICES.items()
        ]

    def narrate(self, narrator: NarratorInfo, text: str, out_dir: Path) -> Narration:
        if narrator.id not in VOICES:
            raise UnknownNarrator(f"there is no narrator called {narrator.id!r}")
        program = self._path()
        if program is None:
            raise NarrationFailed("the eSpeak narrators are not installed on this server")
        out = out_dir / f"narration-{uuid.uuid4().hex[:12]}.wav"
        voice = VOICES[narrator.id][0]
        command = [program, "-v", voice, "-s", str(self.words_per_minute), "-b", "1",
                   "-w", str(out), "--stdin"]
        try:
            done = subprocess.run(command, input=text.encode("utf-8"), capture_output=True,
                                  timeout=self.timeout_seconds, check=False)
        except subprocess.TimeoutExpired as exc:
            out.unlink(missing_ok=True)
            raise NarrationFailed(
                f"the narrator {narrator.name!r} took longer than {self.timeout_seconds:.0f} s"
            ) from exc
        if done.returncode != 0 or not out.exists() or out.stat().st_size <= 44:
            log.error("narrators.espeak_failed", code=done.returncode,
                      stderr=done.stderr.decode("utf-8", "replace")[-500:])
            out.unlink(missing_ok=True)
            raise NarrationFailed(f"the narrator {narrator.name!r} could not speak this text")
        return Narration(out, narrator, "wav")
