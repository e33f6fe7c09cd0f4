from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from tapeworks.db.base import Base, IdMixin, TimestampMixin, UTCDateTime, check_in

SESSION_STATUSES = ("uploaded", "queued", "processing", "completed", "failed", "cancelled")
UNFINISHED_STATUSES = ("uploaded", "queued", "processing")  # transcription still to come
RETRYABLE_STATUSES = ("failed", "cancelled")
SESSION_TYPES = ("individual", "group", "team")  # the coaching log's kinds of session


class RecordingSession(IdMixin, TimestampMixin, Base):
    """A **session**: one uploaded recording and its transcription lifecycle.

    (The class is not called `Session` so it never shadows SQLAlchemy's; a database session
    is always `db`.) Its source audio and transcripts live in the object store under
    `users/{user_id}/sessions/{id}/`; the keys here say which exist.
    """

    __tablename__ = "sessions"
    __table_args__ = (
        CheckConstraint(check_in("status", SESSION_STATUSES), name="status"),
        CheckConstraint("progress_percentage >= 0 AND progress_percentage <= 100",
                        name="progress_range"),
        CheckConstraint(check_in("session_type", SESSION_TYPES), name="session_type"),
        CheckConstraint("billable_minutes IS NULL OR billable_minutes >= 0",
                        name="billable_minutes_not_negative"),
        UniqueConstraint("user_id", "idempotency_key", name="uq_sessions_user_idempotency"),
        Index("ix_sessions_user_created", "user_id", "created_at"),
    )

    user_id: Mapped[str] = mapped_column(String(32), ForeignKey("users.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(16), default="uploaded")
    # mirrored from the current job in the same transactions that change the job
    current_job_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    progress_percentage: Mapped[float] = mapped_column(Float, default=0.0)
    stage: Mapped[str] = mapped_column(String(64), default="uploaded")
    message: Mapped[str] = mapped_column(String(500), default="")
    eta_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    error_stage: Mapped[str | None] = mapped_column(String(64), nullable=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(128), nullable=True)
    # what the user asked for
    language: Mapped[str | None] = mapped_column(String(16), nullable=True)
    num_speakers: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # terms the speech engine is told to expect (names, places), the user's default
    # vocabulary unless the upload gave its own
    vocabulary: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    # the source recording, as probed on upload
    source_key: Mapped[str | None] = mapped_column(String(400), nullable=True)
    source_filename: Mapped[str] = mapped_column(String(300), default="")
    source_format: Mapped[str] = mapped_column(String(32), default="")
    codec: Mapped[str] = mapped_column(String(32), default="")
    channels: Mapped[int] = mapped_column(Integer, default=0)
    sample_rate: Mapped[int] = mapped_column(Integer, default=0)
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    duration_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    source_purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # the transcript (in the store; the text is kept here too for search)
    transcript_key: Mapped[str | None] = mapped_column(String(400), nullable=True)
    transcript_version: Mapped[int] = mapped_column(Integer, default=0)
    # bytes of every stored transcript version (counted in the user's storage)
    transcript_bytes: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    transcript_text: Mapped[str | None] = mapped_column(Text, nullable=True)
    detected_language: Mapped[str | None] = mapped_column(String(16), nullable=True)
    model_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # the coaching log: whom the session was with, when, what kind, paid or pro bono, and
    # the minutes to bill (NULL: the recording's length)
    client_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("clients.id", ondelete="SET NULL"), nullable=True, index=True)
    session_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    session_type: Mapped[str] = mapped_column(String(16), default="individual",
                                              server_default="individual")
    paid: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    billable_minutes: Mapped[float | None] = mapped_column(Float, nullable=True)

    # A multitrack recording (one file per speaker) has its files in `session_tracks`;
    # 0 for a recording uploaded as one file. Its `source_key` names the mixdown (the
    # player's audio) once the transcription made it.
    track_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class SessionNote(IdMixin, TimestampMixin, Base):
    """A note on a session: on the whole session (no span) or on a span of the recording
    (``start``/``end``, seconds of recording time, so transcript edits never move it).
    A highlight is a note with a span and a colour."""

    __tablename__ = "session_notes"
    __table_args__ = (
        CheckConstraint('start IS NULL OR (start >= 0 AND "end" >= start)', name="span"),
        Index("ix_session_notes_session_start", "session_id", "start"),
    )

    user_id: Mapped[str] = mapped_column(String(32), ForeignKey("users.id", ondelete="CASCADE"),
                                         index=True)
    session_id: Mapped[str] = mapped_column(String(32),
                                            ForeignKey("sessions.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(Text, default="")
    start: Mapped[float | None] = mapped_column(Float, nullable=True)
    end: Mapped[float | None] = mapped_column(Float, nullable=True)
    colour: Mapped[str | None] = mapped_column(String(7), nullable=True)


class SessionTrack(IdMixin, TimestampMixin, Base):
    """One track of a multitrack session: a speaker's own recording, placed on the
    session's timeline at `offset_seconds`. Stored under the session's prefix
    (`.../tracks/{position}.{ext}`) before the row names it."""

    __tablename__ = "session_tracks"
    __table_args__ = (
        UniqueConstraint("session_id", "position", name="uq_session_tracks_session_position"),
        CheckConstraint("offset_seconds >= 0", name="offset_positive"),
    )

    session_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("sessions.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)  # 1, 2, ...: speaker S{position}
    name: Mapped[str] = mapped_column(String(100))
    offset_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    key: Mapped[str] = mapped_column(String(400))
    filename: Mapped[str] = mapped_column(String(300), default="")
    format: Mapped[str] = mapped_column(String(32), default="")
    codec: Mapped[str] = mapped_column(String(32), default="")
    channels: Mapped[int] = mapped_column(Integer, default=0)
    sample_rate: Mapped[int] = mapped_column(Integer, default=0)
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    duration_seconds: Mapped[float] = mapped_column(Float, default=0.0)

    @property
    def end_seconds(self) -> float:
        return self.offset_seconds + self.duration_seconds


class SessionSpeaker(TimestampMixin, Base):
    """A transcript speaker's voice embedding (256 float32, little-endian), stored when the
    session is transcribed, so the speaker can be enrolled as a known voice or recognised
    later even after retention deleted the audio. Deleted with the session."""

    __tablename__ = "session_speakers"

    session_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True)
    speaker_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    embedding: Mapped[bytes] = mapped_column(LargeBinary)
    speech_seconds: Mapped[float] = mapped_column(Float, default=0.0)
