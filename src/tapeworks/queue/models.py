from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tapeworks.db.base import Base, IdMixin, TimestampMixin, UTCDateTime, check_in

JOB_KINDS = ("transcribe", "render_episode")
JOB_STATUSES = ("queued", "running", "completed", "failed", "cancelled")
ACTIVE_JOB_STATUSES = ("queued", "running")


class Job(IdMixin, TimestampMixin, Base):
    """One unit of background work on a session or an episode (rule 6).

    `attempt` counts claims; a running job holds a lease (`lease_owner`, `lease_expires_at`)
    renewed by its heartbeat. The reconciler re-queues jobs whose lease expired until
    `max_attempts`, then fails them with the reason.
    """

    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint(check_in("kind", JOB_KINDS), name="kind"),
        CheckConstraint(check_in("status", JOB_STATUSES), name="status"),
        CheckConstraint("progress >= 0 AND progress <= 100", name="progress_range"),
        Index("ix_jobs_status_lease", "status", "lease_expires_at"),
    )

    kind: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str] = mapped_column(String(32), ForeignKey("users.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("sessions.id", ondelete="CASCADE"), index=True, nullable=True
    )
    episode_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("episodes.id", ondelete="CASCADE"), index=True, nullable=True
    )
    status: Mapped[str] = mapped_column(String(16), default="queued")
    stage: Mapped[str] = mapped_column(String(64), default="queued")
    message: Mapped[str] = mapped_column(String(500), default="")
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    eta_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    lease_owner: Mapped[str | None] = mapped_column(String(128), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    error_stage: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    audio_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
