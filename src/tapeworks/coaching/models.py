"""Manual coaching-log entries: sessions that have no recording here."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Boolean, CheckConstraint, Date, Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tapeworks.db.base import Base, IdMixin, TimestampMixin, check_in
from tapeworks.sessions.models import SESSION_TYPES


class CoachingLogEntry(IdMixin, TimestampMixin, Base):
    __tablename__ = "coaching_log_entries"
    __table_args__ = (
        CheckConstraint(check_in("session_type", SESSION_TYPES), name="session_type"),
        CheckConstraint("minutes >= 0", name="minutes_not_negative"),
        Index("ix_coaching_log_entries_user_date", "user_id", "session_date"),
    )

    user_id: Mapped[str] = mapped_column(String(32), ForeignKey("users.id", ondelete="CASCADE"))
    client_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("clients.id", ondelete="SET NULL"), nullable=True, index=True)
    session_date: Mapped[date] = mapped_column(Date)
    title: Mapped[str] = mapped_column(String(300), default="")
    session_type: Mapped[str] = mapped_column(String(16), default="individual")
    paid: Mapped[bool] = mapped_column(Boolean, default=True)
    minutes: Mapped[float] = mapped_column(Float)
    notes: Mapped[str | None] = mapped_column(Text, nullable=True)
