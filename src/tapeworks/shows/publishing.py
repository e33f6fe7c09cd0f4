"""Publishing an episode in a show, what a feed shows at a given time, and the feed itself.

Rules (issue 13): only a completed episode can be published (409 with the reason); another
user's episode or show is 404; publishing is idempotent: publishing again, editing the
metadata or re-rendering never makes a second item and never changes the item's `guid`;
publishing to another show while published is 409 (unpublish first); unpublishing and
publishing again keeps the guid. A future `publish_at` schedules the item: it is in the
feed only from then on. Time is passed in (``now``), never read here.

The feed's ETag covers the visible item set and everything the document says, so it is
computed from a few columns without building the document, and a `publish_at` passing
changes it.

HTTP: `shows.endpoints` (publish, unpublish, chapters) and `shows.public` (the feed and
its media, without login).
"""

from __future__ import annotations

import uuid
from collections.abc import MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Text, cast, func, or_, select
from sqlalchemy.orm import Session as DbSession

from tapeworks.episodes import service as episodes
from tapeworks.episodes.models import Episode
from tapeworks.errors import Conflict, NotFound, ValidationFailed
from tapeworks.http.ranges import media_type_for
from tapeworks.logging import get_logger
from tapeworks.shows import service as shows
from tapeworks.shows import validation as v
from tapeworks.shows.chapters import Chapter, validate_chapters
from tapeworks.shows.conditional import etag_of
from tapeworks.shows.feed import (
    Enclosure,
    FeedItem,
    FeedShow,
    Person,
    TranscriptLink,
    persons_from_transcript,
    render_feed,
)
from tapeworks.shows.hooks import (
    EPISODE_PUBLISHED,
    EPISODE_UNPUBLISHED,
    NO_PUBLICATION_HOOKS,
    PublicationEvent,
    PublicationHooks,
)
from tapeworks.shows.models import EPISODE_TYPES, Publication, Show
from tapeworks.shows.notes import sanitise_notes
from tapeworks.shows.transcript_json import TRANSCRIPT_MEDIA_TYPES
from tapeworks.storage.base import Store
from tapeworks.transcripts.model import Transcript

log = get_logger("tapeworks.shows.publishing")


def media_version(version: int | None) -> int:
    """The version segment of an item's media URLs: its episode's newest completed version
    (the one its keys name), so a new render gets new URLs; older numbers redirect there."""
    return max(1, int(version or 0))

PUBLISH_FIELDS = ("show_id", "title", "description", "season", "number", "episode_type",
                  "explicit", "publish_at")


def get_publication(db: DbSession, episode_id: str) -> Publication | None:
    return db.scalar(select(Publication).where(Publication.episode_id == episode_id))


def _event(kind: str, pub: Publication) -> PublicationEvent:
    return PublicationEvent(kind=kind, user_id=pub.user_id, episode_id=pub.episode_id,
                            show_id=pub.show_id or "", guid=pub.guid, title=pub.title,
                            published_at=pub.published_at, publish_at=pub.publish_at)


def persons_of(store: Store, ep: Episode) -> list[dict[str, str]] | None:
    """The episode's named speakers with their roles (host, guest), from its re-timed
    transcript; None when it has none stored or it cannot be read (the feed then has no
    `podcast:person`, which is optional)."""
    if not ep.transcript_key:
        return None
    try:
        t = Transcript.model_validate_json(store.get_bytes(ep.transcript_key))
    except Exception as exc:  # the feed goes out without persons; the log says why
        log.warning("publication.persons_unreadable", episode_id=ep.id, error=repr(exc)[:300])
        return None
    return [{"name": p.name, "role": p.role} for p in persons_from_transcript(t)]


def publish(db: DbSession, user_id: str, episode_id: str, data: dict[str, Any], *,
            now: datetime, hooks: PublicationHooks = NO_PUBLICATION_HOOKS,
            store: Store | None = None) -> Publication:
    unknown = sorted(set(data) - set(PUBLISH_FIELDS))
    if unknown:
        raise ValidationFailed(f"unknown fields {unknown}; allowed: {list(PUBLISH_FIELDS)}")
    ep = episodes.get_episode(db, user_id, episode_id, for_update=True)
    show = shows.get_show(db, user_id, str(data.get("show_id") or ""), for_update=True)
    if not ep.audio_key:  # no completed version yet (a new version in the making is fine)
        raise Conflict(f"only a completed episode can be published; this one is {ep.status}",
                       details={"status": ep.status})
    pub = get_publication(db, ep.id)
    if pub is not None and pub.state == "published" and pub.show_id not in (None, show.id):
        raise Conflict("this episode is published in another show; unpublish it first",
                       details={"show_id": pub.show_id})
    if pub is None:
        pub = Publication(user_id=user_id, episode_id=ep.id, guid=str(uuid.uuid4()))
        db.add(pub)
    if "title" in data or pub.id is None:
        pub.title = v.title(data.get("title") or ep.title)
    if "description" in data:
        pub.description = sanitise_notes(v.notes(data.get("description")))
    elif pub.description is None:
        pub.description = ""
    for name in ("season", "number"):
        if name in data:
            setattr(pub, name, v.count(data.get(name), name))
    if "episode_type" in data or pub.episode_type is None:
        pub.episode_type = v.choice(data.get("episode_type"), EPISODE_TYPES, "episode_type",
                                    pub.episode_type or "full")
    if "explicit" in data:
        pub.explicit = data["explicit"] if isinstance(data["explicit"], bool) else None
    if "publish_at" in data:
        pub.publish_at = v.aware(data.get("publish_at"), "publish_at")
    if store is not None:
        pub.persons = persons_of(store, ep)
    was_live = pub.state == "published" and pub.published_at is not None
    pub.state = "published"
    pub.show_id = show.id
    if not was_live or "publish_at" in data:
        # pubDate: the scheduled time, or now; kept across later edits of the metadata
        pub.published_at = pub.publish_at if pub.publish_at and pub.publish_at > now else now
    show.feed_changed_at = now
    db.flush()
    if not was_live:
        hooks.emit(db, _event(EPISODE_PUBLISHED, pub))
    return pub


def unpublish(db: DbSession, user_id: str, episode_id: str, *, now: datetime,
              hooks: PublicationHooks = NO_PUBLICATION_HOOKS) -> Publication | None:
    """Take the item out of its feed (idempotent); the guid is kept for a later publish."""
    episodes.get_episode(db, user_id, episode_id, for_update=True)
    pub = get_publication(db, episode_id)
    if pub is None or pub.state == "unpublished":
        return pub
    if pub.show_id:
        show = db.get(Show, pub.show_id)
        if show is not None:
            show.feed_changed_at = now
    event = _event(EPISODE_UNPUBLISHED, pub)
    pub.state = "unpublished"
    db.flush()
    hooks.emit(db, event)
    return pub


# --- what a feed shows ------------------------------------------------------------------------
def _visible_where(show_id: str, now: datetime) -> tuple[Any, ...]:
    return (Publication.show_id == show_id, Publication.state == "published",
            Episode.audio_key.is_not(None),  # a completed version (kept while a new one renders)
            or_(Publication.publish_at.is_(None), Publication.publish_at <= now))


def visible_items(db: DbSession, show_id: str, now: datetime) -> list[tuple[Publication, Episode]]:
    rows = db.execute(select(Publication, Episode)
                      .join(Episode, Episode.id == Publication.episode_id)
                      .where(*_visible_where(show_id, now))).all()
    return [(p, e) for p, e in rows]


def feed_etag(db: DbSession, show: Show, now: datetime) -> tuple[str, datetime]:
    """(ETag, Last-Modified) of the feed at ``now`` from one aggregate query, no document.

    What it covers: the show (every change bumps `feed_changed_at`), how many items are
    visible, the newest change of any visible publication or episode (publish, edit,
    re-render), and the newest `publish_at` already passed (an item appearing on its
    schedule). Unpublishing bumps the show; a deleted episode lowers the count.
    """
    count, pub_changed, ep_changed, passed = db.execute(
        select(func.count(), func.max(Publication.updated_at), func.max(Episode.updated_at),
               func.max(Publication.publish_at))
        .select_from(Publication).join(Episode, Episode.id == Publication.episode_id)
        .where(*_visible_where(show.id, now))).one()
    stamps = [t for t in (show.feed_changed_at, show.updated_at, pub_changed, ep_changed)
              if t is not None]
    last = max(_aware(t) for t in stamps)
    return etag_of(show.id, show.feed_changed_at, show.updated_at, count, pub_changed,
                   ep_changed, passed), last


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo else t.replace(tzinfo=UTC)


@dataclass(frozen=True)
class FeedDocument:
    content: bytes
    etag: str
    last_modified: datetime


def _media(base: str, token: str | None, path: str) -> str:
    url = f"{base.rstrip('/')}{path}"
    return f"{url}?token={token}" if token else url


# Only whether the episode has chapters, read from its settings as text (a JSON path on
# SQLite and PostgreSQL alike): a thousand items decode no settings documents.
CHAPTERS_COLUMN = cast(Episode.settings["render"]["chapters"], Text).label("chapters")


def build_feed(db: DbSession, show: Show, *, base_url: str, token: str | None,
               now: datetime,
               fragments: MutableMapping[tuple[FeedItem, str], str] | None = None
               ) -> FeedDocument:
    """The feed document of ``show`` as it stands at ``now``."""
    etag, last = feed_etag(db, show, now)
    feed_url = shows.feed_url(show, base_url, token)
    items = []
    rows = db.execute(
        select(Publication.guid, Publication.title, Publication.description,
               Publication.published_at, Publication.created_at, Publication.explicit,
               Publication.season, Publication.number, Publication.episode_type, Episode.id,
               Episode.format, Episode.audio_key, Episode.size_bytes, Episode.duration_seconds,
               Episode.transcript_key, CHAPTERS_COLUMN, Publication.persons, Episode.version)
        .join(Episode, Episode.id == Publication.episode_id)
        .where(*_visible_where(show.id, now))).all()
    for pub in rows:  # plain rows: no ORM identity work for a thousand items
        ext = pub.format or (pub.audio_key or "").rsplit(".", 1)[-1]
        media = f"/media/episodes/{pub.id}/v{media_version(pub.version)}"
        transcripts: tuple[TranscriptLink, ...] = ()
        if pub.transcript_key:
            transcripts = tuple(
                TranscriptLink(_media(base_url, token, f"{media}/transcript.{fmt}"), mt,
                               captions=fmt in ("vtt", "srt"))
                for fmt, mt in TRANSCRIPT_MEDIA_TYPES.items())
        items.append(FeedItem(
            guid=pub.guid, title=pub.title, notes_html=pub.description,
            enclosure=Enclosure(_media(base_url, token, f"{media}/audio.{ext}"),
                                int(pub.size_bytes or 0), media_type_for(f"audio.{ext}")),
            published_at=pub.published_at or pub.created_at,
            duration_seconds=float(pub.duration_seconds or 0.0), explicit=pub.explicit,
            season=pub.season, number=pub.number, episode_type=pub.episode_type,
            transcripts=transcripts,
            chapters_url=_media(base_url, token, f"/media/episodes/{pub.id}/chapters.json")
            if pub.chapters not in (None, "", "null", "[]") else None,
            persons=tuple(Person(name=str(p.get("name") or ""), role=str(p.get("role") or "guest"))
                          for p in (pub.persons or []) if isinstance(p, dict) and p.get("name")),
        ))
    doc = FeedShow(
        title=show.title, description=show.description, language=show.language,
        feed_url=feed_url, podcast_guid=show.podcast_guid, category=show.category,
        subcategory=show.subcategory, link=show.link, explicit=show.explicit,
        author=show.author or None, owner_name=show.owner_name or None,
        owner_email=show.owner_email or None, copyright=show.copyright or None,
        type=show.type, locked=show.locked, private=show.private,
        image_url=shows.artwork_url(show, base_url, token), built_at=last,
    )
    return FeedDocument(render_feed(doc, items, fragments), etag, last)


# --- what the public routes serve -------------------------------------------------------------
@dataclass(frozen=True)
class PublicItem:
    publication: Publication
    episode: Episode
    show: Show


def public_item(db: DbSession, episode_id: str, token: str | None, now: datetime) -> PublicItem:
    """The published, visible item of ``episode_id`` a request without login may read (its
    show public, or the show's current token given). Every other case is the same 404:
    unknown, unpublished, scheduled for later, or a private show without its token."""
    row = db.execute(select(Publication, Episode, Show)
                     .join(Episode, Episode.id == Publication.episode_id)
                     .join(Show, Show.id == Publication.show_id)
                     .where(Publication.episode_id == episode_id,
                            Publication.state == "published",
                            Episode.audio_key.is_not(None),
                            or_(Publication.publish_at.is_(None),
                                Publication.publish_at <= now))).first()
    if row is None or not shows.token_allows(row[2], token):
        raise NotFound("not found")
    return PublicItem(row[0], row[1], row[2])


# --- chapters ---------------------------------------------------------------------------------
def stored_chapters(settings: dict[str, Any] | None) -> list[Chapter]:
    """The chapters an episode keeps in ``settings.render.chapters`` (objects with start,
    title and url, or the ``[start, title]`` pairs of older rows)."""
    raw = ((settings or {}).get("render") or {}).get("chapters") or []
    out: list[Chapter] = []
    for c in raw:
        if isinstance(c, dict):
            out.append(Chapter(float(c["start"]), str(c["title"]), c.get("url") or None))
        elif isinstance(c, list | tuple) and len(c) == 2:
            out.append(Chapter(float(c[0]), str(c[1])))
    return sorted(out, key=lambda c: c.start)


def set_chapters(db: DbSession, user_id: str, episode_id: str, raw: list[dict[str, Any]], *,
                 now: datetime) -> list[Chapter]:
    """Set an episode's chapters (episode time). They are the one source of the feed's
    chapters file and of the MP3's ID3 chapters at the next render (`render.chapters`)."""
    ep = episodes.get_episode(db, user_id, episode_id, for_update=True)
    chapters = validate_chapters(raw, duration=ep.duration_seconds or None)
    settings = dict(ep.settings or {})
    render = dict(settings.get("render") or {})
    render["chapters"] = [c.to_dict() for c in chapters] or None
    settings["render"] = render
    ep.settings = settings  # a new dict: the JSON column sees the change
    pub = get_publication(db, ep.id)
    if pub is not None and pub.show_id:
        show = db.get(Show, pub.show_id)
        if show is not None:
            show.feed_changed_at = now
    db.flush()
    return chapters
