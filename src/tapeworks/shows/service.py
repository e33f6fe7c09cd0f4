"""Shows, feed tokens, artwork and share links: the rules. Services flush; the edge commits.

Time is always passed in (``now``), never read here, so scheduling is tested with an
injected clock. Absolute URLs are built from the ``base_url`` the edge passes (the
configured public URL, else the request's own).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session as DbSession

from tapeworks.db.base import new_id
from tapeworks.db.uow import after_commit
from tapeworks.errors import NotFound, ValidationFailed
from tapeworks.shows import validation as v
from tapeworks.shows.artwork import ArtworkInfo, validate_artwork
from tapeworks.shows.categories import validate_category
from tapeworks.shows.feed import podcast_guid
from tapeworks.shows.models import SHOW_TYPES, ShareLink, Show
from tapeworks.storage import keys
from tapeworks.storage.base import Store
from tapeworks.users.service import hash_token

SHOW_FIELDS = ("title", "description", "language", "category", "subcategory", "explicit",
               "author", "owner_name", "owner_email", "link", "copyright", "type", "private",
               "locked")


def new_token() -> str:
    """A long random token for a URL (256 bits); only its hash is ever stored."""
    return secrets.token_urlsafe(32)


def feed_path(show_id: str) -> str:
    return f"/feeds/{show_id}.xml"


def share_path(token: str) -> str:
    return f"/s/{token}"


def _with_token(url: str, token: str | None) -> str:
    return f"{url}?token={token}" if token else url


def feed_url(show: Show, base_url: str, token: str | None = None) -> str:
    """The absolute feed URL; a private show's carries its token when the caller has it
    (only in the answer that made the token: it is not stored)."""
    return _with_token(base_url.rstrip("/") + feed_path(show.id), token)


def artwork_url(show: Show, base_url: str, token: str | None = None) -> str | None:
    if not show.artwork_key or not show.artwork_format:
        return None
    return _with_token(f"{base_url.rstrip('/')}/media/shows/{show.id}/artwork."
                       f"{show.artwork_format}", token)


def artwork_key(user_id: str, show_id: str, ext: str) -> str:
    return f"{keys.user_prefix(user_id)}shows/{keys.validate_id(show_id, 'show id')}/" \
        f"artwork.{keys.validate_ext(ext)}"


@dataclass(frozen=True)
class ShowChange:
    """A show together with the feed token made by this change (shown once), if any."""

    show: Show
    feed_token: str | None = None


# --- shows ------------------------------------------------------------------------------------
def get_show(db: DbSession, user_id: str, show_id: str, *, for_update: bool = False) -> Show:
    q = select(Show).where(Show.id == show_id, Show.user_id == user_id)
    if for_update:
        q = q.with_for_update()
    show = db.scalar(q)
    if show is None:
        raise NotFound(f"show {show_id} not found")
    return show


def list_shows(db: DbSession, user_id: str) -> list[Show]:
    return list(db.scalars(select(Show).where(Show.user_id == user_id)
                           .order_by(Show.created_at.desc(), Show.id)))


def _apply(show: Show, data: dict[str, Any], *, creating: bool) -> None:
    unknown = sorted(set(data) - set(SHOW_FIELDS))
    if unknown:
        raise ValidationFailed(f"unknown show fields {unknown}; allowed: {list(SHOW_FIELDS)}")
    if creating or "title" in data:
        show.title = v.title(data.get("title"))
    if "description" in data or creating:
        show.description = v.show_description(data.get("description"))
    if "language" in data or creating:
        show.language = v.language(data.get("language"))
    if "category" in data or "subcategory" in data or creating:
        category = data.get("category", show.category)
        sub = data.get("subcategory", show.subcategory if "category" not in data else None)
        show.category, show.subcategory = validate_category(category, sub)
    for flag in ("explicit", "private", "locked"):
        if flag in data:
            value = data[flag]
            if not isinstance(value, bool):
                raise ValidationFailed(f"{flag} must be true or false", details={"field": flag})
            setattr(show, flag, value)
    for name in ("author", "owner_name", "copyright"):
        if name in data or creating:
            setattr(show, name, v.short_text(data.get(name), name))
    if "owner_email" in data or creating:
        show.owner_email = v.email(data.get("owner_email"))
    if "link" in data or creating:
        show.link = v.http_url(data.get("link"), "link")
    if "type" in data or creating:
        show.type = v.choice(data.get("type"), SHOW_TYPES, "type", "episodic")


def feed_changed(show: Show, now: datetime) -> None:
    """Note a change of what the show's feed says (its ETag counts these, under the show's
    row lock; `feed_changed_at` is the feed's Last-Modified)."""
    show.feed_changed_at = now
    show.feed_version = (show.feed_version or 0) + 1


def bump_feed(db: DbSession, show_id: str, now: datetime) -> None:
    """`feed_changed` for a change made without the show's row in hand (an episode's new
    version, a speaker renamed): one UPDATE, so concurrent bumps all count."""
    db.execute(update(Show).where(Show.id == show_id)
               .values(feed_version=Show.feed_version + 1, feed_changed_at=now)
               .execution_options(synchronize_session=False))


def create_show(db: DbSession, user_id: str, data: dict[str, Any], *, base_url: str,
                now: datetime) -> ShowChange:
    show = Show(id=new_id(), user_id=user_id, explicit=False, private=False, locked=True)
    _apply(show, data, creating=True)
    # Fixed now, from the URL of this moment, and stored: it never changes afterwards.
    show.podcast_guid = podcast_guid(base_url.rstrip("/") + feed_path(show.id))
    feed_changed(show, now)
    token = None
    if show.private:
        token = new_token()
        show.feed_token_hash = hash_token(token)
    db.add(show)
    db.flush()
    return ShowChange(show, token)


def update_show(db: DbSession, user_id: str, show_id: str, data: dict[str, Any], *,
                now: datetime) -> ShowChange:
    show = get_show(db, user_id, show_id, for_update=True)
    was_private = show.private
    _apply(show, data, creating=False)
    token = None
    if show.private and not was_private:
        token = new_token()
        show.feed_token_hash = hash_token(token)
    elif not show.private:
        show.feed_token_hash = None
    feed_changed(show, now)
    db.flush()
    return ShowChange(show, token)


def rotate_feed_token(db: DbSession, user_id: str, show_id: str, *, now: datetime) -> ShowChange:
    """A new token for a private show's feed and media; the old one stops at once."""
    show = get_show(db, user_id, show_id, for_update=True)
    if not show.private:
        raise ValidationFailed("this show is public: its feed needs no token; make it private "
                               "first", details={"field": "private"})
    token = new_token()
    show.feed_token_hash = hash_token(token)
    feed_changed(show, now)
    db.flush()
    return ShowChange(show, token)


def set_artwork(db: DbSession, store: Store, user_id: str, show_id: str, data: bytes,
                filename: str | None, *, now: datetime) -> Show:
    """Check the image (every rule on the real bytes), store it, then point the show at it."""
    show = get_show(db, user_id, show_id, for_update=True)
    info: ArtworkInfo = validate_artwork(data, filename)
    key = artwork_key(user_id, show.id, info.ext)
    store.put_bytes(key, data, content_type=info.media_type)  # before the row says it exists
    old = show.artwork_key
    show.artwork_key, show.artwork_format, show.artwork_size_bytes = key, info.ext, len(data)
    feed_changed(show, now)
    db.flush()
    if old and old != key:
        after_commit(db, lambda: store.delete(old))
    return show


def delete_show(db: DbSession, store: Store, user_id: str, show_id: str) -> None:
    """Delete a show; its items are unpublished (their guids are kept with the episodes)."""
    from tapeworks.shows.models import Publication

    show = get_show(db, user_id, show_id, for_update=True)
    for pub in db.scalars(select(Publication).where(Publication.show_id == show.id)):
        pub.state = "unpublished"
        pub.show_id = None
    key = show.artwork_key
    db.delete(show)
    db.flush()
    if key:
        after_commit(db, lambda: store.delete(key))


def show_by_feed_token(db: DbSession, show_id: str, token: str | None) -> Show:
    """The show a public request may read: a public show, or a private one whose current
    token is given. Every other case is the same 404."""
    show = db.get(Show, show_id)
    if show is None:
        raise NotFound("feed not found")
    if show.private and not _token_matches(show, token):
        raise NotFound("feed not found")
    return show


def token_allows(show: Show, token: str | None) -> bool:
    """May a request holding ``token`` (or none) read this show's feed and media?"""
    return not show.private or _token_matches(show, token)


def _token_matches(show: Show, token: str | None) -> bool:
    return bool(token) and show.feed_token_hash is not None and \
        secrets.compare_digest(hash_token(token or ""), show.feed_token_hash)


# --- share links ------------------------------------------------------------------------------
@dataclass(frozen=True)
class NewShare:
    link: ShareLink
    token: str


def create_share(db: DbSession, user_id: str, session_id: str, *, expires_at: datetime | None,
                 allow_download: bool, now: datetime) -> NewShare:
    from tapeworks.sessions import service as sessions

    sessions.get_session(db, user_id, session_id)  # 404 for another user's session
    expires = v.aware(expires_at, "expires_at")
    if expires is not None and expires <= now:
        raise ValidationFailed("expires_at must be in the future", details={"field": "expires_at"})
    token = new_token()
    link = ShareLink(id=new_id(), user_id=user_id, session_id=session_id,
                     token_hash=hash_token(token), allow_download=bool(allow_download),
                     expires_at=expires)
    db.add(link)
    db.flush()
    return NewShare(link, token)


def list_shares(db: DbSession, user_id: str, session_id: str) -> list[ShareLink]:
    from tapeworks.sessions import service as sessions

    sessions.get_session(db, user_id, session_id)
    return list(db.scalars(select(ShareLink).where(ShareLink.session_id == session_id,
                                                   ShareLink.user_id == user_id)
                           .order_by(ShareLink.created_at.desc(), ShareLink.id)))


def revoke_share(db: DbSession, user_id: str, share_id: str, *, now: datetime) -> None:
    link = db.scalar(select(ShareLink).where(ShareLink.id == share_id,
                                             ShareLink.user_id == user_id))
    if link is None:
        raise NotFound(f"share link {share_id} not found")
    if link.revoked_at is None:
        link.revoked_at = now
    db.flush()


def share_by_token(db: DbSession, token: str, *, now: datetime) -> ShareLink:
    """The live share link for ``token``; unknown, revoked and expired are the same 404."""
    link = db.scalar(select(ShareLink).where(ShareLink.token_hash == hash_token(token)))
    if link is None or link.revoked_at is not None or \
            (link.expires_at is not None and link.expires_at <= now):
        raise NotFound("this link does not exist or is no longer shared")
    return link


def touch_share(db: DbSession, link: ShareLink, *, now: datetime) -> None:
    """Note the link's last use (what the owner's list shows), at most once a minute."""
    if link.last_used_at is None or (now - _aware_dt(link.last_used_at)).total_seconds() >= 60:
        link.last_used_at = now
        db.flush()


def _aware_dt(t: datetime) -> datetime:
    from datetime import UTC

    return t if t.tzinfo else t.replace(tzinfo=UTC)
