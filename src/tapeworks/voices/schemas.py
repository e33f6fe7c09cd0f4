from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from tapeworks.http.inputs import InputModel, Name
from tapeworks.transcripts.model import SpeakerRole


class VoiceIn(InputModel):
    session_id: str = Field(max_length=32, description="a transcribed session of yours")
    speaker_id: str = Field(max_length=32, description="its speaker to enroll, e.g. 'S1'")
    name: Name | None = Field(default=None, description="required unless is_me")
    role: SpeakerRole | None = None
    is_me: bool = Field(default=False, description="this is your own voice")


class VoicePatch(InputModel):
    name: Name | None = None
    role: SpeakerRole | None = None


class SampleIn(InputModel):
    session_id: str = Field(max_length=32)
    speaker_id: str = Field(max_length=32)


class SampleOut(BaseModel):
    session_id: str | None
    speaker_id: str
    speech_seconds: float
    created_at: datetime


class VoiceOut(BaseModel):
    id: str
    name: str
    role: str | None
    is_me: bool
    sample_count: int
    speech_seconds: float
    created_at: datetime
    updated_at: datetime
    samples: list[SampleOut] = Field(default_factory=list)


class ApplyOut(BaseModel):
    voice_id: str
    sessions: list[str] = Field(description="sessions whose transcript got this voice")


class VoicesExport(BaseModel):
    voices: list[dict[str, Any]]
