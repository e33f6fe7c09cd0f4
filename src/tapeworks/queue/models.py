from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tapeworks.db.base import Base, IdMixin, TimestampMixin, UTCDateTime, check_in

JOB_STATUSES = ("queued", "running", "completed", "failed", "cancelled")
ACTIVE_JOB_STATUSES = ("queued", "running")
FINISHED_JOB_STATUSES = ("completed", "failed", "cancelled")
JOB_POOLS = ("long", "short")


class Job(IdMixin, TimestampMixin, Base):
    """One unit of background work (rule 6), for an owner of any kind or none.

    `kind` names the handler (the registry checks it; no constraint, so a new kind is a
    change in its own domain only). `owner_kind`/`owner_id` say what the job works for
    (a session, an episode; nothing for a delivery); the owner shows the status of its
    current job. `attempt` counts claims; a running job holds a lease (`lease_owner`,
    `lease_expires_at`) renewed by its heartbeat. The reconciler re-queues jobs whose lease
    expired until `max_attempts`, then fails them with the reason; it never re-sends a
    queued job before `run_after`.
    """

    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint(check_in("status", JOB_STATUSES), name="status"),
        CheckConstraint(check_in("pool", JOB_POOLS), name="pool"),
        CheckConstraint("progress >= 0 AND progress <= 100", name="progress_range"),
        Index("ix_jobs_status_lease", "status", "lease_expires_at"),
        Index("ix_jobs_status_run_after", "status", "run_after"),
        Index("ix_jobs_owner", "owner_kind", "owner_id"),
        # fair claiming: when was each user last served in a pool
        Index("ix_jobs_user_pool_started", "user_id", "pool", "started_at"),
    )

    kind: Mapped[str] = mapped_column(String(32))
    pool: Mapped[str] = mapped_column(String(8), default="long")
    user_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("users.id", ondelete="CASCADE"), index=True, nullable=True)
    owner_kind: Mapped[str | None] = mapped_column(String(32), nullable=True)
    owner_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
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
    run_after: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    error_stage: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    audio_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
