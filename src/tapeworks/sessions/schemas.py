from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from tapeworks.http.inputs import InputModel, Name, Title
from tapeworks.sessions.models import RecordingSession, SessionTrack


class SourceOut(BaseModel):
    filename: str
    format: str
    codec: str
    channels: int
    sample_rate: int
    size_bytes: int
    available: bool
    purged_at: datetime | None


class TrackOut(BaseModel):
    """One track of a multitrack session: a speaker's own recording; its words carry
    speaker `S{position}`, named after the track."""

    id: str
    position: int
    name: str
    speaker: str
    offset_seconds: float
    filename: str
    format: str
    codec: str
    channels: int
    sample_rate: int
    size_bytes: int
    duration_seconds: float

    @classmethod
    def of(cls, t: SessionTrack) -> TrackOut:
        return cls(id=t.id, position=t.position, name=t.name, speaker=f"S{t.position}",
                   offset_seconds=t.offset_seconds, filename=t.filename, format=t.format,
                   codec=t.codec, channels=t.channels, sample_rate=t.sample_rate,
                   size_bytes=t.size_bytes, duration_seconds=t.duration_seconds)


class SessionOut(BaseModel):
    id: str
    title: str
    status: str
    progress_percentage: float
    stage: str
    message: str
    eta_seconds: float | None
    attempt: int
    duration_seconds: float
    language: str | None
    detected_language: str | None
    num_speakers: int | None
    vocabulary: list[str] = Field(default_factory=list)
    transcript_version: int
    model: str | None
    error: str | None
    error_stage: str | None
    source: SourceOut
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    # the coaching log
    client_id: str | None = None
    session_date: date | None = None
    session_type: str = "individual"
    paid: bool = True
    billable_minutes: float | None = None  # as set; null = the recording's length
    log_minutes: float = 0.0  # what the coaching log counts
    # a multitrack recording (one file per speaker): its tracks; the source is their mixdown
    track_count: int = 0
    tracks: list[TrackOut] | None = None  # listed by GET /sessions/{id} and the upload calls

    @classmethod
    def of(cls, s: RecordingSession, tracks: list[SessionTrack] | None = None) -> SessionOut:
        return cls(
            id=s.id, title=s.title, status=s.status, progress_percentage=round(s.progress_percentage, 1),
            stage=s.stage, message=s.message, eta_seconds=s.eta_seconds, attempt=s.attempt,
            duration_seconds=s.duration_seconds, language=s.language,
            detected_language=s.detected_language, num_speakers=s.num_speakers,
            vocabulary=list(s.vocabulary or []),
            transcript_version=s.transcript_version, model=s.model_name, error=s.error,
            error_stage=s.error_stage,
            source=SourceOut(filename=s.source_filename, format=s.source_format, codec=s.codec,
                             channels=s.channels, sample_rate=s.sample_rate, size_bytes=s.size_bytes,
                             available=s.source_purged_at is None and bool(s.source_key),
                             purged_at=s.source_purged_at),
            created_at=s.created_at, updated_at=s.updated_at, completed_at=s.completed_at,
            client_id=s.client_id, session_date=s.session_date, session_type=s.session_type,
            paid=s.paid, billable_minutes=s.billable_minutes,
            log_minutes=(s.billable_minutes if s.billable_minutes is not None
                         else round(s.duration_seconds / 60.0, 2)),
            track_count=s.track_count,
            tracks=[TrackOut.of(t) for t in tracks] if tracks is not None else None,
        )


class SessionPatch(BaseModel):
    """What can be changed on a session itself (the transcript has its own edits)."""

    model_config = ConfigDict(extra="forbid")

    title: Annotated[Title, Field(description="the recording's name")] | None = None
    client_id: str | None = Field(default=None, max_length=32)
    session_date: date | None = None
    session_type: str | None = Field(default=None, description="individual, group or team")
    paid: bool | None = None
    billable_minutes: float | None = Field(default=None, ge=0, le=24 * 60)


class SessionPage(BaseModel):
    items: list[SessionOut]
    total: int
    limit: int
    offset: int


class SpeakerPatch(InputModel):
    id: str
    name: Annotated[Name, Field(max_length=100)] | None = None
    role: str | None = None


class SpeakersPatch(InputModel):
    speakers: list[SpeakerPatch] = Field(min_length=1)


class SegmentPatch(InputModel):
    text: str | None = Field(default=None, max_length=20000)
    speaker: str | None = None


class EditsRequest(InputModel):
    """Raw edit operations, e.g. {"op": "merge_segments", "segment_ids": [...]}."""

    ops: list[dict[str, Any]] = Field(min_length=1, max_length=200)


class TranscriptRestoreIn(InputModel):
    version: int = Field(ge=1, le=1_000_000)


class DirectUploadIn(InputModel):
    filename: str = Field(default="recording", max_length=300)
    size_bytes: int = Field(gt=0)
    content_type: str | None = Field(default=None, max_length=100)


class DirectUploadOut(BaseModel):
    upload_id: str
    method: str = "PUT"
    url: str
    headers: dict[str, str]
    expires_at: datetime
    complete_url: str


class DirectUploadComplete(InputModel):
    filename: str = Field(default="recording", max_length=300)
    title: Title | None = None
    language: str | None = Field(default=None, max_length=16)
    speakers: str | None = Field(default=None, max_length=8)
    vocabulary: str | None = Field(default=None, max_length=8000,
                                   description="comma-separated terms (up to 100)")


class WaveformOut(BaseModel):
    """Peaks of the source audio: `peaks[i]` (0..1) is the loudest sample between
    `start + i * bucket_seconds` and the next bucket."""

    duration_seconds: float
    start: float
    bucket_seconds: float
    peaks: list[float]


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(default="", max_length=10_000)
    start: float | None = Field(default=None, description="seconds in the recording")
    end: float | None = None
    colour: str | None = Field(default=None, description="#rrggbb: a highlight")


class NotePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str | None = Field(default=None, max_length=10_000)
    start: float | None = None
    end: float | None = None
    colour: str | None = None


class NoteOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    session_id: str
    text: str
    start: float | None
    end: float | None
    colour: str | None
    created_at: datetime
    updated_at: datetime
