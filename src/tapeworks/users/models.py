from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, CheckConstraint, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tapeworks.db.base import Base, IdMixin, TimestampMixin, UTCDateTime, check_in
from tapeworks.production.bleep import BLEEP_MODES
from tapeworks.production.markers import DEFAULT_EDIT_MARKER, DEFAULT_PAUSE_SECONDS

USER_ROLES = ("user", "admin")
# `access`: a login through the API (expires); `web`: a page sign-in, whose value is an opaque
# session id accepted only from the signed cookie, never as a Bearer token; `personal`: a
# long-lived API token.
TOKEN_KINDS = ("access", "personal", "web")
LOGIN_KINDS = ("access", "web")


class User(IdMixin, TimestampMixin, Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint(check_in("role", USER_ROLES), name="role"),)

    email: Mapped[str] = mapped_column(String(320), unique=True, index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16), default="user")
    plan: Mapped[str] = mapped_column(String(64), default="free")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # IANA name; dates the user sees and gives (the coaching log's from/to) are in it
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")
    # Failed sign-ins since the owner last dismissed the notice on the account page.
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_failed_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_failed_login_address: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # default vocabulary: terms every upload's speech engine is told to expect
    vocabulary: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")

    tokens: Mapped[list[ApiToken]] = relationship(
        back_populates="user", lazy="raise", cascade="all, delete-orphan", passive_deletes=True
    )

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


class ApiToken(IdMixin, TimestampMixin, Base):
    """A bearer token, stored only as its SHA-256. `access` tokens come from login and
    expire; `personal` tokens are long-lived and revocable."""

    __tablename__ = "api_tokens"
    __table_args__ = (CheckConstraint(check_in("kind", TOKEN_KINDS), name="kind"),)

    user_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # where a login came from (shown in the list of logins)
    address: Mapped[str | None] = mapped_column(String(64), nullable=True)
    user_agent: Mapped[str | None] = mapped_column(String(300), nullable=True)

    user: Mapped[User] = relationship(back_populates="tokens", lazy="raise")


class SetupToken(IdMixin, TimestampMixin, Base):
    """The first-run setup link's token (SHA-256 only): with no administrator configured,
    `serve` prints the link and `/setup` refuses without it. Deleted once an account exists."""

    __tablename__ = "setup_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), unique=True)


class LoginFailure(IdMixin, Base):
    """One failed password check, kept for the throttling window only (older rows are
    deleted as new ones come). `email` is what was typed (normalised), account or not."""

    __tablename__ = "login_failures"
    __table_args__ = (
        Index("ix_login_failures_address_failed_at", "address", "failed_at"),
        Index("ix_login_failures_email_address_failed_at", "email", "address", "failed_at"),
        Index("ix_login_failures_failed_at", "failed_at"),
    )

    email: Mapped[str] = mapped_column(String(320))
    address: Mapped[str] = mapped_column(String(64))
    failed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class StudioSettings(TimestampMixin, Base):
    """A user's studio settings: the spoken edit marker (also a hotword of every upload)
    and the bleeps, the defaults of every episode's cleaning settings. A user without a
    row has the defaults."""

    __tablename__ = "studio_settings"
    __table_args__ = (CheckConstraint(check_in("bleep_mode", BLEEP_MODES), name="bleep_mode"),)

    user_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    edit_marker: Mapped[str | None] = mapped_column(String(40), nullable=True, default=DEFAULT_EDIT_MARKER)
    edit_marker_pause_seconds: Mapped[float] = mapped_column(Float, default=DEFAULT_PAUSE_SECONDS)
    bleep_words: Mapped[list[str]] = mapped_column(JSON, default=list)
    bleep_default_list: Mapped[bool] = mapped_column(Boolean, default=False)
    bleep_mode: Mapped[str] = mapped_column(String(8), default="beep")
