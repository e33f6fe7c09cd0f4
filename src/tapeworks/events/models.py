"""An **event**: something a user is told about (webhooks, mail), one row per change."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from tapeworks.db.base import Base, UTCDateTime, utcnow


class Event(Base):
    """`id` is the ``webhook-id`` every delivery of this event carries (``evt_...``);
    `data` is the payload's ``data`` (ids, title, links), `occurred_at` its ``timestamp``."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_user_id_occurred_at", "user_id", "occurred_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(32), ForeignKey("users.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
