"""Narrators: text-to-speech behind one interface.

A *narrator* is a text-to-speech voice (the word "voice" belongs to voice profiles).
Each engine (piper, espeak-ng, a cloud API) lists the narrators it has and renders
text with one of them to an audio file. `Narrators` holds the engines in order of
preference and is what the rest of the service talks to: it lists every narrator,
picks the default (the first engine that has any, so espeak-ng takes over when the
neural engine is not installed), checks the text, and turns every engine failure into
one error that says what happened in the user's words.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import structlog

from tapeworks.errors import TapeworksError, ValidationFailed

log = structlog.get_logger("tapeworks.narrators")

MAX_TEXT_CHARS = 5000


class UnknownNarrator(ValidationFailed):
    code = "unknown_narrator"


class NarrationFailed(TapeworksError):
    """The engine could not turn the text into audio (not installed any more, crashed,
    refused by a cloud service). The message is for the user; details go to the log."""

    status_code = 502
    code = "narration_failed"

    def __init__(self, message: str, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        if self.public_message is None:  # written for the user: shown as it is
            self.public_message = message


@dataclass(frozen=True)
class NarratorInfo:
    id: str  # stable, used in the API's `narrator` field
    name: str  # for people
    engine: str  # "piper", "espeak", "cloud"
    language: str | None = None
    description: str = ""

    def to_dict(self) -> dict[str, str | None]:
        return {
            "id": self.id,
            "name": self.name,
            "engine": self.engine,
            "language": self.language,
            "description": self.description,
        }


@dataclass(frozen=True)
class Narration:
    """An audio file an engine wrote (WAV or MP3; the caller decodes and levels it)."""

    path: Path
    narrator: NarratorInfo
    format: str  # "wav" | "mp3"


@runtime_checkable
class NarrationEngine(Protocol):
    name: str

    def available(self) -> bool:
        """Whether the engine can run here (installed, configured)."""
        ...

    def narrators(self) -> list[NarratorInfo]:
        ...

    def narrate(self, narrator: NarratorInfo, text: str, out_dir: Path) -> Narration:
        """Write `text` spoken by `narrator` to a new file in `out_dir`.

        Raises NarrationFailed (message for the user) or UnknownNarrator."""
        ...


def check_text(text: str) -> str:
    cleaned = text.strip()
    if not cleaned:
        raise ValidationFailed("the text to speak is empty")
    if len(cleaned) > MAX_TEXT_CHARS:
        raise ValidationFailed(
            f"the text to speak has {len(cleaned):,} characters; the limit is {MAX_TEXT_CHARS:,}"
        )
    return cleaned


class Narrators:
    """The engines of this deployment, most preferred first."""

    def __init__(self, engines: Sequence[NarrationEngine]) -> None:
        self.engines = list(engines)

    def _available(self) -> list[NarrationEngine]:
        return [e for e in self.engines if e.available()]

    def list(self) -> list[NarratorInfo]:
        out: list[NarratorInfo] = []
        for engine in self._available():
            try:
                out += engine.narrators()
            except NarrationFailed as exc:  # a cloud service down: list the others
                log.warning("narrators.list_failed", engine=engine.name, reason=exc.message)
        return out

    def default(self) -> NarratorInfo:
        for engine in self._available():
            try:
                found = engine.narrators()
            except NarrationFailed as exc:
                log.warning("narrators.list_failed", engine=engine.name, reason=exc.message)
                continue
            if found:
                return found[0]
        raise NarrationFailed(
            "no narrator is installed on this server; ask its administrator to install "
            "espeak-ng or the neural narrators"
        )

    def resolve(self, narrator_id: str | None) -> tuple[NarrationEngine, NarratorInfo]:
        if narrator_id is None or not narrator_id.strip():
            info = self.default()
            return self._engine(info.engine), info
        wanted = narrator_id.strip()
        for engine in self._available():
            try:
                found = engine.narrators()
            except NarrationFailed as exc:
                log.warning("narrators.list_failed", engine=engine.name, reason=exc.message)
                continue
            for info in found:
                if info.id == wanted:
                    return engine, info
        raise UnknownNarrator(
            f"there is no narrator called {wanted!r}; GET /api/v1/narrators lists the ones available"
        )

    def _engine(self, name: str) -> NarrationEngine:
        for engine in self.engines:
            if engine.name == name:
                return engine
        raise NarrationFailed(f"the {name} narrators are not available")

    def narrate(self, narrator_id: str | None, text: str, out_dir: Path) -> Narration:
        """Check the text and the narrator, then render; every failure is a NarrationFailed,
        UnknownNarrator or ValidationFailed with a message for the user."""
        cleaned = check_text(text)
        engine, info = self.resolve(narrator_id)
        out_dir.mkdir(parents=True, exist_ok=True)
        try:
            result = engine.narrate(info, cleaned, out_dir)
        except (NarrationFailed, ValidationFailed):
            raise
        except (OSError, RuntimeError, ValueError) as exc:
            log.error("narrators.engine_crashed", engine=engine.name, narrator=info.id,
                      error=repr(exc))
            raise NarrationFailed(
                f"the narrator {info.name!r} could not speak this text; try again or choose "
                "another narrator"
            ) from exc
        if not result.path.exists() or result.path.stat().st_size == 0:
            raise NarrationFailed(f"the narrator {info.name!r} produced no audio")
        log.info("narrators.rendered", engine=engine.name, narrator=info.id, chars=len(cleaned))
        return result
