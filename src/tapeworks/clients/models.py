"""A **client** of a coaching practice: whom a session was with."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tapeworks.db.base import Base, IdMixin, TimestampMixin


class Client(IdMixin, TimestampMixin, Base):
    """Sessions point at their client (``sessions.client_id``, set to NULL when the client
    is deleted: the sessions stay, unlinked)."""

    __tablename__ = "clients"
    __table_args__ = (Index("ix_clients_user_name", "user_id", "name"),)

    user_id: Mapped[str] = mapped_column(String(32), ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    organisation: Mapped[str | None] = mapped_column(String(200), nullable=True)
    notes: Mapped[str | None] = mapped_column(Text, nullable=True)
