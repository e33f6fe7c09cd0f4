"""Each user's mail choices and the mails on their way (fed by the outbox)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tapeworks.db.base import Base, IdMixin, UTCDateTime, check_in, utcnow

MAIL_STATUSES: tuple[str, ...] = ("pending", "sent", "failed", "cancelled")


class NotificationSettings(Base):
    """The events a user is mailed about; no row: the defaults (completed and failed)."""

    __tablename__ = "notification_settings"

    user_id: Mapped[str] = mapped_column(String(32), ForeignKey("users.id", ondelete="CASCADE"),
                                         primary_key=True)
    mail_events: Mapped[list[str]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class MailDelivery(IdMixin, Base):
    """One mail for one event, sent by a `mail.send` job; a mail server that is down
    delays it (retried on the webhook schedule), none is lost."""

    __tablename__ = "mail_deliveries"
    __table_args__ = (CheckConstraint(check_in("status", MAIL_STATUSES), name="status"),)

    user_id: Mapped[str] = mapped_column(String(32), ForeignKey("users.id", ondelete="CASCADE"),
                                         index=True)
    event_id: Mapped[str] = mapped_column(String(40), ForeignKey("events.id", ondelete="CASCADE"),
                                          index=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
