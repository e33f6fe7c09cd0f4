from __future__ import annotations

from sqlalchemy import CheckConstraint, Float, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from tapeworks.db.base import Base, IdMixin, TimestampMixin, check_in

USAGE_KINDS = ("transcription", "episode_render", "adjustment")


class UsageEntry(IdMixin, TimestampMixin, Base):
    """The append-only usage ledger. One entry per job and kind (unique idempotency key),
    so a retried job is charged once. Entries outlive the sessions they describe
    (no foreign key to sessions or episodes)."""

    __tablename__ = "usage_entries"
    __table_args__ = (
        CheckConstraint(check_in("kind", USAGE_KINDS), name="kind"),
        Index("ix_usage_entries_user_created", "user_id", "created_at"),
    )

    user_id: Mapped[str] = mapped_column(String(32), ForeignKey("users.id", ondelete="CASCADE"))
    session_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    episode_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    job_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    kind: Mapped[str] = mapped_column(String(32))
    audio_seconds: Mapped[float] = mapped_column(Float)
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    note: Mapped[str] = mapped_column(String(300), default="")
