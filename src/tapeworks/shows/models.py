"""Shows, the publication of an episode in a show, and share links of a session.

* `Show`: a podcast. Its `podcast_guid` is fixed when it is created (from the feed URL of
  that moment) and never changes. A private show's feed and media need a token; only its
  SHA-256 is stored (`feed_token_hash`), replaced by a new one at once.
* `Publication`: one per episode that was ever published; it keeps the item's `guid`
  for good (unpublishing and publishing again keeps it; a guid is never reused, since
  it is random). `state` is `published` or `unpublished`; a future `publish_at` keeps a
  published item out of the feed until then.
* `FeedItemXml`: each item's XML as last written, for other processes (a cache).
* `ShareLink`: a read-only link to one session's transcript and audio; the token is long,
  random and only its SHA-256 is stored.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from tapeworks.db.base import Base, IdMixin, TimestampMixin, UTCDateTime, check_in

SHOW_TYPES = ("episodic", "serial")
EPISODE_TYPES = ("full", "trailer", "bonus")
PUBLICATION_STATES = ("published", "unpublished")
ARTWORK_FORMATS = ("jpg", "png")


class Show(IdMixin, TimestampMixin, Base):
    __tablename__ = "shows"
    __table_args__ = (
        CheckConstraint(check_in("type", SHOW_TYPES), name="type"),
        CheckConstraint(f"artwork_format IS NULL OR {check_in('artwork_format', ARTWORK_FORMATS)}",
                        name="artwork_format"),
    )

    user_id: Mapped[str] = mapped_column(String(32), ForeignKey("users.id", ondelete="CASCADE"),
                                         index=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[str] = mapped_column(String(35))
    category: Mapped[str] = mapped_column(String(64))
    subcategory: Mapped[str | None] = mapped_column(String(64), nullable=True)
    explicit: Mapped[bool] = mapped_column(Boolean, default=False)
    author: Mapped[str] = mapped_column(String(300), default="")
    owner_name: Mapped[str] = mapped_column(String(300), default="")
    owner_email: Mapped[str] = mapped_column(String(320), default="")
    link: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    copyright: Mapped[str] = mapped_column(String(300), default="")
    type: Mapped[str] = mapped_column(String(16), default="episodic")
    private: Mapped[bool] = mapped_column(Boolean, default=False)
    locked: Mapped[bool] = mapped_column(Boolean, default=True)
    podcast_guid: Mapped[str] = mapped_column(String(36), unique=True)
    feed_token_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    artwork_key: Mapped[str | None] = mapped_column(String(400), nullable=True)
    artwork_format: Mapped[str | None] = mapped_column(String(8), nullable=True)
    artwork_size_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # Bumped by every change that alters the feed document (not by a publish_at passing,
    # which the feed's ETag covers through the visible item set): `feed_version` counts
    # them (the ETag's part, exact whatever the clock says), `feed_changed_at` dates the
    # last one (Last-Modified).
    feed_changed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    feed_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class Publication(IdMixin, TimestampMixin, Base):
    __tablename__ = "publications"
    __table_args__ = (
        CheckConstraint(check_in("state", PUBLICATION_STATES), name="state"),
        CheckConstraint(check_in("episode_type", EPISODE_TYPES), name="episode_type"),
        CheckConstraint("season IS NULL OR season >= 0", name="season"),
        CheckConstraint("number IS NULL OR number >= 0", name="number"),
        # the feed's ETag: the published items of a show and the newest schedule passed
        Index("ix_publications_show_state_publish_at", "show_id", "state", "publish_at"),
    )

    user_id: Mapped[str] = mapped_column(String(32), ForeignKey("users.id", ondelete="CASCADE"),
                                         index=True)
    episode_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("episodes.id", ondelete="CASCADE"), unique=True)
    show_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("shows.id", ondelete="SET NULL"), nullable=True, index=True)
    guid: Mapped[str] = mapped_column(String(64), unique=True)
    state: Mapped[str] = mapped_column(String(16), default="published")
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")  # sanitised HTML
    season: Mapped[int | None] = mapped_column(Integer, nullable=True)
    number: Mapped[int | None] = mapped_column(Integer, nullable=True)
    episode_type: Mapped[str] = mapped_column(String(16), default="full")
    explicit: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    publish_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # The episode's named speakers ([{name, role}], `podcast:person`), taken from its
    # transcript at each publish, so the feed is built from columns without the store.
    persons: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    # When `episode.published` was recorded for this stint in the feed: at publish for an
    # item visible at once, by `announce_due` once a scheduled `publish_at` has passed;
    # cleared when an unpublished item is published again.
    announced_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class FeedItemXml(Base):
    """Each published item's XML as the feed last wrote it, shared by every process: a
    process that has never built a show's feed (a new or another API process) reads these
    instead of writing every item again. `key` is what the XML was written from (the
    publication's and its episode's `updated_at`, the episode's version, the show's
    language); a row whose key is not the current one is ignored and written again. The
    links hold placeholders for the base URL and the token (`publishing.BASE_MARK`,
    `TOKEN_MARK`), which differ per request. Only a cache: losing it costs time, never
    a wrong feed."""

    __tablename__ = "feed_item_xml"

    publication_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("publications.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(200))
    xml: Mapped[str] = mapped_column(Text)


class ShareLink(IdMixin, TimestampMixin, Base):
    __tablename__ = "share_links"

    user_id: Mapped[str] = mapped_column(String(32), ForeignKey("users.id", ondelete="CASCADE"),
                                         index=True)
    session_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("sessions.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    allow_download: Mapped[bool] = mapped_column(Boolean, default=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
