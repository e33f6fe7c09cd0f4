from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy import false as sa_false
from sqlalchemy.orm import Mapped, mapped_column

from tapeworks.db.base import Base, IdMixin, TimestampMixin, UTCDateTime, check_in

ASSET_KINDS = ("intro", "outro", "music", "other")
SPEECH_ASSET_KINDS = ("intro", "outro", "music")  # what a generated asset may be
ASSET_ORIGINS = ("upload", "speech")  # uploaded, or spoken by a narrator from text
# mirrored from the job that makes a speech asset; an uploaded asset is completed at once
ASSET_STATUSES = ("queued", "processing", "completed", "failed", "cancelled")
EPISODE_STATUSES = ("queued", "processing", "completed", "failed", "cancelled")
UNFINISHED_EPISODE_STATUSES = ("queued", "processing")
RETRYABLE_EPISODE_STATUSES = ("failed", "cancelled", "completed")  # completed: a new version
# a finished episode no longer needs its session's source audio (a failed one may be retried)
EPISODE_STATUSES_RELEASING_SOURCE = ("completed", "cancelled")


class Asset(IdMixin, TimestampMixin, Base):
    """An audio file a template can use (intro, outro, music bed): uploaded, or spoken by a
    narrator from text (`origin` "speech", made by a job whose status it shows; its audio,
    and `key`, exist once it is completed)."""

    __tablename__ = "assets"
    __table_args__ = (
        CheckConstraint(check_in("kind", ASSET_KINDS), name="kind"),
        CheckConstraint(check_in("origin", ASSET_ORIGINS), name="origin"),
        CheckConstraint(check_in("status", ASSET_STATUSES), name="status"),
    )

    user_id: Mapped[str] = mapped_column(String(32), ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16), default="other")
    key: Mapped[str | None] = mapped_column(String(400), nullable=True)
    origin: Mapped[str] = mapped_column(String(16), default="upload", server_default="upload")
    text: Mapped[str | None] = mapped_column(Text, nullable=True)  # what the narrator says
    narrator: Mapped[str | None] = mapped_column(String(100), nullable=True)
    # the job making a speech asset, mirrored (queue/mirror.py)
    status: Mapped[str] = mapped_column(String(16), default="completed", server_default="completed")
    current_job_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    progress_percentage: Mapped[float] = mapped_column(Float, default=100.0, server_default="100")
    stage: Mapped[str] = mapped_column(String(64), default="completed", server_default="completed")
    message: Mapped[str] = mapped_column(String(500), default="", server_default="")
    eta_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    attempt: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    error_stage: Mapped[str | None] = mapped_column(String(64), nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    filename: Mapped[str] = mapped_column(String(300), default="")
    format: Mapped[str] = mapped_column(String(16), default="")
    codec: Mapped[str] = mapped_column(String(32), default="")
    channels: Mapped[int] = mapped_column(Integer, default=0)
    sample_rate: Mapped[int] = mapped_column(Integer, default=0)
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    duration_seconds: Mapped[float] = mapped_column(Float, default=0.0)


class EpisodeTemplate(IdMixin, TimestampMixin, Base):
    """Intro, outro, music bed and their mixing settings, reusable across episodes."""

    __tablename__ = "templates"

    user_id: Mapped[str] = mapped_column(String(32), ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    intro_asset_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("assets.id", ondelete="SET NULL"), nullable=True)
    outro_asset_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("assets.id", ondelete="SET NULL"), nullable=True)
    music_asset_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("assets.id", ondelete="SET NULL"), nullable=True)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Episode(IdMixin, TimestampMixin, Base):
    """Audio produced from a session's transcript with a template and cleaning settings.

    Its audio, re-timed transcript and edit list live next to each other in the store under
    `users/{user_id}/episodes/{id}/`, all written before the episode is marked completed.
    """

    __tablename__ = "episodes"
    __table_args__ = (
        CheckConstraint(check_in("status", EPISODE_STATUSES), name="status"),
        CheckConstraint("progress_percentage >= 0 AND progress_percentage <= 100",
                        name="progress_range"),
    )

    user_id: Mapped[str] = mapped_column(String(32), ForeignKey("users.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("sessions.id", ondelete="CASCADE"), index=True)
    template_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("templates.id", ondelete="SET NULL"), nullable=True)
    title: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    current_job_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    progress_percentage: Mapped[float] = mapped_column(Float, default=0.0)
    stage: Mapped[str] = mapped_column(String(64), default="queued")
    message: Mapped[str] = mapped_column(String(500), default="")
    eta_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    error_stage: Mapped[str | None] = mapped_column(String(64), nullable=True)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    source_transcript_version: Mapped[int] = mapped_column(Integer, default=0)
    format: Mapped[str] = mapped_column(String(8), default="mp3")
    audio_key: Mapped[str | None] = mapped_column(String(400), nullable=True)
    transcript_key: Mapped[str | None] = mapped_column(String(400), nullable=True)
    edit_list_key: Mapped[str | None] = mapped_column(String(400), nullable=True)
    duration_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    size_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    loudness: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    cuts_summary: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # the newest completed version (the one audio_key and the other keys name); 0 before
    version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class EpisodeVersion(IdMixin, TimestampMixin, Base):
    """One render of an episode (issue 11): every render (the first, a changed cut, a retry)
    is a new version `n`, its files under `episodes/{id}/v{n}/`; completed versions stay
    downloadable, the episode row names the newest completed one."""

    __tablename__ = "episode_versions"
    __table_args__ = (UniqueConstraint("episode_id", "version", name="uq_episode_versions_number"),)

    episode_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("episodes.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    job_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    completed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
    format: Mapped[str] = mapped_column(String(8), default="mp3")
    audio_key: Mapped[str | None] = mapped_column(String(400), nullable=True)
    transcript_key: Mapped[str | None] = mapped_column(String(400), nullable=True)
    edit_list_key: Mapped[str | None] = mapped_column(String(400), nullable=True)
    duration_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    size_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # the audio file
    # what the version keeps in the store (audio, re-timed transcript, edit list): storage
    stored_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    loudness: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    cuts_summary: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
