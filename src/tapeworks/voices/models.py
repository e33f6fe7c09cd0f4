"""Voice profiles: a user's known voices (biometric data: made only by their owner, listed,
exportable, deleted completely). A voice keeps embeddings, never audio."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from tapeworks.db.base import Base, IdMixin, TimestampMixin, check_in
from tapeworks.transcripts.model import SPEAKER_ROLES


class Voice(IdMixin, TimestampMixin, Base):
    """A known voice of one user: a name, an optional role, and the unit mean of its
    samples' embeddings (each weighted by its seconds of speech)."""

    __tablename__ = "voices"
    __table_args__ = (
        CheckConstraint(f"role IS NULL OR {check_in('role', SPEAKER_ROLES)}", name="role"),
        Index("ix_voices_user_name", "user_id", "name"),
    )

    user_id: Mapped[str] = mapped_column(String(32), ForeignKey("users.id", ondelete="CASCADE"),
                                         index=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str | None] = mapped_column(String(16), nullable=True)
    is_me: Mapped[bool] = mapped_column(Boolean, default=False)  # "this is me"
    embedding: Mapped[bytes] = mapped_column(LargeBinary)
    sample_count: Mapped[int] = mapped_column(Integer, default=0)
    speech_seconds: Mapped[float] = mapped_column(Float, default=0.0)


class VoiceSample(IdMixin, TimestampMixin, Base):
    """One recording's speaker added to a voice: its embedding (copied from the session's
    speaker, so the voice survives the session) and where it came from."""

    __tablename__ = "voice_samples"
    __table_args__ = (
        Index("ix_voice_samples_voice", "voice_id"),
    )

    voice_id: Mapped[str] = mapped_column(String(32), ForeignKey("voices.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(32), ForeignKey("users.id", ondelete="CASCADE"),
                                         index=True)
    session_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("sessions.id", ondelete="SET NULL"), nullable=True, index=True)
    speaker_id: Mapped[str] = mapped_column(String(32))
    embedding: Mapped[bytes] = mapped_column(LargeBinary)
    speech_seconds: Mapped[float] = mapped_column(Float, default=0.0)
