"""Publishing an episode in a show, what a feed shows at a given time, and the feed itself.

Rules (issue 13): only a completed episode can be published (409 with the reason); another
user's episode or show is 404; publishing is idempotent: publishing again, editing the
metadata or re-rendering never makes a second item and never changes the item's `guid`;
publishing to another show while published is 409 (unpublish first); unpublishing and
publishing again keeps the guid. A future `publish_at` schedules the item: it is in the
feed only from then on. Time is passed in (``now``), never read here.

The feed's ETag covers the visible item set and everything the document says: it comes
from one small query (`FeedState`: the show's change counter, the number of published
items, the newest `publish_at` passed), so a `publish_at` passing changes it, and every
process on the database computes the same one. The document is built incrementally
(`build_feed`: each item's XML kept under what it depends on).

HTTP: `shows.endpoints` (publish, unpublish, chapters) and `shows.public` (the feed and
its media, without login).
"""

from __future__ import annotations

import gzip
import json
import secrets
import uuid
from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, delete, event, insert, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session as DbSession

from tapeworks.db.base import utcnow
from tapeworks.episodes import service as episodes
from tapeworks.episodes.models import Episode
from tapeworks.errors import Conflict, NotFound, ValidationFailed
from tapeworks.http.ranges import media_type_for
from tapeworks.logging import get_logger
from tapeworks.sessions.models import RecordingSession
from tapeworks.shows import service as shows
from tapeworks.shows import validation as v
from tapeworks.shows.chapters import Chapter, map_chapters, validate_chapters
from tapeworks.shows.conditional import etag_of
from tapeworks.shows.feed import (
    Enclosure,
    FeedItem,
    FeedShow,
    Person,
    TranscriptLink,
    feed_attr,
    item_text,
    persons_from_transcript,
    render_document,
)
from tapeworks.shows.hooks import (
    EPISODE_PUBLISHED,
    EPISODE_UNPUBLISHED,
    NO_PUBLICATION_HOOKS,
    PublicationEvent,
    PublicationHooks,
)
from tapeworks.shows.models import EPISODE_TYPES, FeedItemXml, Publication, Show
from tapeworks.shows.notes import sanitise_notes
from tapeworks.shows.transcript_json import TRANSCRIPT_MEDIA_TYPES
from tapeworks.storage import keys
from tapeworks.storage.base import Store
from tapeworks.transcripts.model import Speaker, Transcript
from tapeworks.users.service import hash_token

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


def _current_speakers(db: DbSession, store: Store, ep: Episode) -> list[Speaker] | None:
    """The speakers of the episode's session as they are named now (its newest transcript
    version), or None when it cannot be read."""
    session = db.get(RecordingSession, ep.session_id)
    if session is None or session.transcript_version < 1:
        return None
    try:
        key = keys.session_transcript(session.user_id, session.id, session.transcript_version)
        return list(Transcript.model_validate_json(store.get_bytes(key)).speakers)
    except Exception as exc:  # the names the episode was rendered with are used instead
        log.warning("publication.speakers_unreadable", episode_id=ep.id, error=repr(exc)[:300])
        return None


def persons_of(store: Store, ep: Episode,
               speakers: list[Speaker] | None = None) -> list[dict[str, str]] | None:
    """The episode's named speakers with their roles (host, guest), from its re-timed
    transcript, each named as in ``speakers`` (the session's current names: a speaker
    renamed after the render is named anew) when given; None when it has none stored or
    it cannot be read (the feed then has no `podcast:person`, which is optional)."""
    if not ep.transcript_key:
        return None
    try:
        t = Transcript.model_validate_json(store.get_bytes(ep.transcript_key))
    except Exception as exc:  # the feed goes out without persons; the log says why
        log.warning("publication.persons_unreadable", episode_id=ep.id, error=repr(exc)[:300])
        return None
    if speakers is not None:
        now_named = {sp.id: sp for sp in speakers}
        t = t.model_copy(update={"speakers": [now_named.get(sp.id, sp) for sp in t.speakers]})
    return [{"name": p.name, "role": p.role} for p in persons_from_transcript(t)]


def served_transcript(db: DbSession, store: Store, ep: Episode) -> Transcript:
    """The episode's re-timed transcript with its speakers named as in the session now."""
    assert ep.transcript_key is not None
    t = Transcript.model_validate_json(store.get_bytes(ep.transcript_key))
    speakers = _current_speakers(db, store, ep)
    if speakers is None:
        return t
    now_named = {sp.id: sp for sp in speakers}
    return t.model_copy(update={"speakers": [now_named.get(sp.id, sp) for sp in t.speakers]})


def speakers_changed(db: DbSession, store: Store, session: RecordingSession,
                     transcript: Transcript, *, now: datetime) -> None:
    """A session's transcript was saved (a speaker renamed, a role set): the
    `podcast:person` of its episodes' items follow at once, and their feeds' ETags change.
    (A session hook, run in the transaction that saves the transcript.)"""
    rows = db.execute(select(Publication, Episode)
                      .join(Episode, Episode.id == Publication.episode_id)
                      .where(Episode.session_id == session.id)).all()
    for pub, ep in rows:
        persons = persons_of(store, ep, list(transcript.speakers))
        if persons is None or persons == pub.persons:
            continue
        pub.persons = persons
        if pub.state == "published" and pub.show_id:
            shows.bump_feed(db, pub.show_id, now)
    db.flush()


def episode_rendered(db: DbSession, store: Store, ep: Episode, *, now: datetime) -> None:
    """An episode's render finished: a published item now serves the new version (its
    enclosure, duration and transcript), so its feed changes; its persons are taken from
    the new transcript. (Run in the transaction that completes the render.)"""
    if ep.status != "completed":
        return
    pub = get_publication(db, ep.id)
    if pub is None:
        return
    persons = persons_of(store, ep, _current_speakers(db, store, ep))
    if persons is not None:
        pub.persons = persons
    if pub.state == "published" and pub.show_id:
        shows.bump_feed(db, pub.show_id, now)
    db.flush()


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
        pub.persons = persons_of(store, ep, _current_speakers(db, store, ep))
    was_live = pub.state == "published" and pub.published_at is not None
    pub.state = "published"
    pub.show_id = show.id
    if not was_live or "publish_at" in data:
        # pubDate: the scheduled time, or now; kept across later edits of the metadata
        pub.published_at = pub.publish_at if pub.publish_at and pub.publish_at > now else now
    if not was_live:
        pub.announced_at = None  # a new stint in the feed: announced when it is visible
    shows.feed_changed(show, now)
    db.flush()
    visible = pub.publish_at is None or _aware(pub.publish_at) <= now
    if pub.announced_at is None and visible:
        pub.announced_at = now
        db.flush()
        hooks.emit(db, _event(EPISODE_PUBLISHED, pub))
    return pub


def announce_due(db: DbSession, *, now: datetime,
                 hooks: PublicationHooks = NO_PUBLICATION_HOOKS) -> int:
    """Record `episode.published` for each item that became visible without a request
    (its `publish_at` passed) and was not announced yet; how many were. Each is claimed
    by a conditional UPDATE, so processes running this at once announce it once."""
    due = db.scalars(select(Publication.id)
                     .join(Episode, Episode.id == Publication.episode_id)
                     .where(Publication.state == "published",
                            Publication.announced_at.is_(None),
                            Publication.show_id.is_not(None), Episode.audio_key.is_not(None),
                            or_(Publication.publish_at.is_(None),
                                Publication.publish_at <= now))).all()
    announced = 0
    for pub_id in due:
        claimed = db.execute(update(Publication)
                             .where(Publication.id == pub_id,
                                    Publication.announced_at.is_(None),
                                    Publication.state == "published")
                             .values(announced_at=now)
                             .execution_options(synchronize_session=False))
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            continue  # another process announced it
        pub = db.get(Publication, pub_id, populate_existing=True)
        if pub is not None:
            hooks.emit(db, _event(EPISODE_PUBLISHED, pub))
            announced += 1
    db.flush()
    return announced


def run_announcements(rt: Any) -> int:
    """The periodic job: `announce_due` at the runtime's now, in its own transaction."""
    with rt.database.transaction() as db:
        n = announce_due(db, now=rt.clock(), hooks=rt.publication_hooks)
    if n:
        log.info("publication.announced", count=n)
    return n


@event.listens_for(DbSession, "before_flush")
def _deletions_change_feeds(db: DbSession, _context: Any, _instances: Any) -> None:
    """Deleting a published episode, or the session it was made from, takes its item out
    of its feed (the publication goes with it, ON DELETE CASCADE): the feed's counter and
    Last-Modified move in the deleting transaction, so a reader asking with
    If-Modified-Since alone is not told its copy is current."""
    if not db.deleted:
        return
    episode_ids = [o.id for o in db.deleted if isinstance(o, Episode)]
    session_ids = [o.id for o in db.deleted if isinstance(o, RecordingSession)]
    if not episode_ids and not session_ids:
        return
    with db.no_autoflush:
        show_ids = set(db.scalars(
            select(Publication.show_id).join(Episode, Episode.id == Publication.episode_id)
            .where(Publication.state == "published", Publication.show_id.is_not(None),
                   or_(Episode.id.in_(episode_ids), Episode.session_id.in_(session_ids)))))
        for show_id in show_ids:
            shows.bump_feed(db, str(show_id), utcnow())


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
            shows.feed_changed(show, now)
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


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo else t.replace(tzinfo=UTC)


# --- the feed's validator: one small query ------------------------------------------------
_PUBLISHED = "'published'"


def _state_sql(paramstyle: str) -> str:
    mark = "?" if paramstyle == "qmark" else "%s"
    p, s = Publication.__tablename__, Show.__tablename__
    return (f"SELECT s.private, s.feed_token_hash, s.feed_version, s.updated_at, "
            f"s.feed_changed_at, s.language, "
            f"(SELECT count(*) FROM {p} p WHERE p.show_id = s.id AND p.state = {_PUBLISHED}), "
            f"(SELECT max(p.publish_at) FROM {p} p WHERE p.show_id = s.id "
            f"AND p.state = {_PUBLISHED} AND p.publish_at <= {mark}) "
            f"FROM {s} s WHERE s.id = {mark}")


def _db_time(dialect: str, when: datetime) -> Any:
    """``when`` as the dialect stores a `UTCDateTime` (SQLite: naive UTC text)."""
    when = when.astimezone(UTC)
    return when.strftime("%Y-%m-%d %H:%M:%S.%f") if dialect == "sqlite" else when


def _as_time(value: Any) -> datetime | None:
    if value is None:
        return None
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _stamp(value: Any) -> str:
    """A stored time as the same text on every connection (an ETag part)."""
    when = _as_time(value)
    return when.isoformat() if when is not None else ""


@dataclass(frozen=True)
class FeedState:
    """What decides a feed's validator, read in one query without building anything: the
    show's change counter (`feed_version`, bumped in the transaction of every change to
    what the feed says), its row's `updated_at`, how many items are published (a deleted
    episode or session takes its item away without touching the show) and the newest
    `publish_at` already passed (an item appearing on its schedule). All of it lives in
    the database, so every process serving the feed computes the same ETag."""

    show_id: str
    private: bool
    token_hash: str | None
    language: str
    parts: tuple[Any, ...]
    last_modified: datetime

    def allows(self, token: str | None) -> bool:
        """May a request holding ``token`` (or none) read this feed?"""
        if not self.private:
            return True
        return bool(token) and self.token_hash is not None and \
            secrets.compare_digest(hash_token(token or ""), self.token_hash)

    def etag(self, base_url: str, link_token: str | None) -> str:
        """The ETag of the document served at ``base_url`` with ``link_token`` in its links."""
        return etag_of(self.show_id, *self.parts, base_url,
                       hash_token(link_token) if link_token else None)


def read_feed_state(cursor: Any, dialect: str, paramstyle: str, show_id: str,
                    now: datetime) -> FeedState | None:
    """The feed state of ``show_id`` at ``now`` through a DBAPI cursor (the 304 path runs
    on a pooled connection: the ORM would cost several times the query); None when the
    show does not exist."""
    cursor.execute(_state_sql(paramstyle), (_db_time(dialect, now), show_id))
    return feed_state_of(show_id, cursor.fetchone(), now)


def feed_state_query(dialect: str, paramstyle: str, show_id: str,
                     now: datetime) -> tuple[str, tuple[Any, ...]]:
    """The SQL and parameters of `read_feed_state`, for a caller with its own connection
    (the event loop's pool on PostgreSQL); `feed_state_of` reads its row."""
    return _state_sql(paramstyle), (_db_time(dialect, now), show_id)


def feed_state_of(show_id: str, row: Any, now: datetime) -> FeedState | None:
    if row is None:
        return None
    private, token_hash, version, updated, changed, language, count, passed = row
    stamps = [t for t in (_as_time(changed), _as_time(updated), _as_time(passed)) if t]
    return FeedState(show_id=show_id, private=bool(private), token_hash=token_hash,
                     language=language or "",
                     parts=(int(version or 0), _stamp(updated), int(count or 0), _stamp(passed)),
                     last_modified=max(stamps) if stamps else now)


def feed_state(engine: Engine, show_id: str, now: datetime) -> FeedState | None:
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        try:
            return read_feed_state(cur, engine.dialect.name, engine.dialect.paramstyle,
                                   show_id, now)
        finally:
            cur.close()
    finally:
        raw.close()  # back to the pool, which rolls the read back


def session_feed_state(db: DbSession, show_id: str, now: datetime) -> FeedState | None:
    """`feed_state` inside the session's transaction."""
    conn = db.connection()
    cur = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        return read_feed_state(cur, conn.dialect.name, conn.dialect.paramstyle, show_id, now)
    finally:
        cur.close()


def feed_etag(db: DbSession, show: Show, now: datetime, base_url: str = "",
              token: str | None = None) -> tuple[str, datetime]:
    """(ETag, Last-Modified) of the feed at ``now``, from `FeedState`."""
    state = session_feed_state(db, show.id, now)
    if state is None:
        raise NotFound("feed not found")
    return state.etag(base_url, token), state.last_modified


@dataclass
class FeedDocument:
    content: bytes
    etag: str
    last_modified: datetime
    _gzip: bytes | None = None
    # the items this build wrote (publication id, key, XML with placeholders), for
    # `store_item_xml`
    written: list[tuple[str, str, str]] = field(default_factory=list)

    def gzipped(self) -> bytes:
        """The document gzip-compressed (made once, on the first request that accepts it)."""
        if self._gzip is None:
            self._gzip = gzip.compress(self.content, compresslevel=GZIP_LEVEL, mtime=0)
        return self._gzip


# A 1,000-item feed: 18x smaller (1.4 MB to 76 kB) in ~4 ms; level 6 takes 4x the time for
# 15% less.
GZIP_LEVEL = 1


def _items_sql(dialect: str, paramstyle: str, n: int) -> str:
    """The rows the items of ``n`` publications are written from, in the order
    `_feed_item` reads them. Only whether the episode has chapters is read from its
    settings (as JSON text, by a JSON path): a thousand items decode no settings."""
    mark = "?" if paramstyle == "qmark" else "%s"
    p, e = Publication.__tablename__, Episode.__tablename__
    chapters = ("json_extract(e.settings, '$.render.chapters')" if dialect == "sqlite"
                else "(e.settings -> 'render' ->> 'chapters')")
    return (f"SELECT p.id, p.guid, p.title, p.description, p.published_at, p.created_at, "
            f"p.explicit, p.season, p.number, p.episode_type, e.id, e.format, e.audio_key, "
            f"e.size_bytes, e.duration_seconds, e.transcript_key, {chapters}, p.persons, "
            f"e.version FROM {p} p JOIN {e} e ON e.id = p.episode_id "
            f"WHERE p.id IN ({', '.join([mark] * n)})")


def _stamps_sql(paramstyle: str) -> str:
    mark = "?" if paramstyle == "qmark" else "%s"
    p, e = Publication.__tablename__, Episode.__tablename__
    return (f"SELECT p.id, p.updated_at, e.updated_at, e.version, p.guid, p.published_at, "
            f"p.created_at FROM {p} p "
            f"JOIN {e} e ON e.id = p.episode_id WHERE p.show_id = {mark} "
            f"AND p.state = {_PUBLISHED} AND e.audio_key IS NOT NULL "
            f"AND (p.publish_at IS NULL OR p.publish_at <= {mark})")


# (publication id, its row's and its episode's updated_at and version, base URL, token,
# language) -> (sort key, the item's XML)
Fragments = MutableMapping[tuple[Any, ...], tuple[tuple[datetime, str], str]]

# Where the base URL and the token go in an item's XML kept in `feed_item_xml` (they
# differ per request): control characters, which no escaped user text can hold.
BASE_MARK = "\x01base\x01"
TOKEN_MARK = "\x01token\x01"


def _xml_key(key: tuple[Any, ...]) -> str:
    """What a `feed_item_xml` row was written from: a process cache key without the base
    URL and the token (the stored XML has placeholders for them)."""
    _pid, p_updated, e_updated, version, _base, _token, language = key
    return f"{_stamp_text(p_updated)}|{_stamp_text(e_updated)}|{version}|{language}"[:200]


def _stamp_text(value: Any) -> str:
    # PostgreSQL hands over datetimes (their timestamp is 20x cheaper than str()),
    # SQLite the stored text
    return repr(value.timestamp()) if isinstance(value, datetime) else str(value)


def _with_links(template: str, base_attr: str, query_attr: str) -> str:
    return template.replace(BASE_MARK, base_attr).replace(TOKEN_MARK, query_attr)


def _stored_xml(cur_of: Any, pids: Sequence[str], paramstyle: str,
                show_id: str) -> dict[str, tuple[str, str]]:
    """publication id -> (key, XML) of the `feed_item_xml` rows of ``pids`` (of the show's
    items: many are read by the show, a query with one parameter)."""
    mark = "?" if paramstyle == "qmark" else "%s"
    found: dict[str, tuple[str, str]] = {}
    if len(pids) > 50:
        rows = _fetchall(cur_of, f"SELECT x.publication_id, x.key, x.xml FROM "
                         f"{FeedItemXml.__tablename__} x JOIN {Publication.__tablename__} p "
                         f"ON p.id = x.publication_id WHERE p.show_id = {mark}", (show_id,))
        return {pid: (key, xml) for pid, key, xml in rows}
    for i in range(0, len(pids), 500):
        chunk = list(pids[i:i + 500])
        rows = _fetchall(cur_of, f"SELECT publication_id, key, xml FROM "
                         f"{FeedItemXml.__tablename__} WHERE publication_id IN "
                         f"({', '.join([mark] * len(chunk))})", chunk)
        found.update((pid, (key, xml)) for pid, key, xml in rows)
    return found


def _fetchall(cur_of: Any, sql: str, params: Sequence[Any]) -> list[Any]:
    """The rows of one query on a raw DB-API cursor of the session's connection (the feed
    build's hot reads skip the ORM)."""
    cur = cur_of()
    try:
        cur.execute(sql, params)
        return list(cur.fetchall())
    finally:
        cur.close()


def store_item_xml(database: Any, written: Sequence[tuple[str, str, str]]) -> None:
    """Keep the items a feed build wrote (`FeedDocument.written`) for the other processes,
    in a transaction of its own after the answer was made. Only a cache: a failure (two
    processes storing the same item at once, say) is logged and forgotten."""
    if not written:
        return
    try:
        with database.transaction() as db:
            for i in range(0, len(written), 500):
                chunk = written[i:i + 500]
                db.execute(delete(FeedItemXml).where(
                    FeedItemXml.publication_id.in_([pid for pid, _k, _x in chunk])))
                db.execute(insert(FeedItemXml), [
                    {"publication_id": pid, "key": key, "xml": xml} for pid, key, xml in chunk])
    except SQLAlchemyError as exc:
        log.warning("feed.item_xml_not_kept", items=len(written), error=type(exc).__name__)


_TRANSCRIPTS = tuple((fmt, mt, fmt in ("vtt", "srt")) for fmt, mt in TRANSCRIPT_MEDIA_TYPES.items())


def _feed_item(row: Any, base_url: str, token: str | None) -> FeedItem:
    """The `FeedItem` of one row of `_items_sql`: what `_row_fragment` writes without
    building it (the test of the two holds them equal)."""
    (_pid, guid, title, notes, published_at, created_at, explicit, season, number,
     episode_type, episode_id, fmt, audio_key, size, duration, transcript_key, chapters,
     persons, version) = row
    if isinstance(persons, str):  # SQLite hands JSON over as text
        persons = json.loads(persons)
    ext = fmt or (audio_key or "").rsplit(".", 1)[-1]
    base = base_url.rstrip("/")
    query = f"?token={token}" if token else ""
    media = f"{base}/media/episodes/{episode_id}"
    current = f"{media}/v{media_version(version)}"
    transcripts: tuple[TranscriptLink, ...] = ()
    if transcript_key:
        transcripts = tuple(TranscriptLink(f"{current}/transcript.{f}{query}", mt, None, cap)
                            for f, mt, cap in _TRANSCRIPTS)
    people = tuple(Person(str(p.get("name") or ""), str(p.get("role") or "guest"))
                   for p in (persons or ()) if isinstance(p, dict) and p.get("name"))
    return FeedItem(
        guid=guid, title=title, notes_html=notes,
        enclosure=Enclosure(f"{current}/audio.{ext}{query}", int(size or 0),
                            media_type_for(f"audio.{ext}")),
        published_at=_as_time(published_at or created_at),  # type: ignore[arg-type]
        duration_seconds=float(duration or 0.0),
        explicit=None if explicit is None else bool(explicit),
        season=season, number=number, episode_type=episode_type,
        transcripts=transcripts,
        chapters_url=f"{media}/chapters.json{query}"
        if chapters not in (None, "", "null", "[]") else None,
        persons=people,
    )


def _row_fragment(row: Any, base_attr: str, query_attr: str,
                  language: str) -> tuple[tuple[datetime, str], str]:
    """(sort key, the item's XML) of one row of `_items_sql`: `feed.item_text` straight
    from the row, the same XML as `item_xml(_feed_item(row))` (a test holds them equal)
    without building the item's objects; the base URL and the token come escaped once for
    the whole feed, the rest of each link is our ids."""
    (_pid, guid, title, notes, published_at, created_at, explicit, season, number,
     episode_type, episode_id, fmt, audio_key, size, duration, transcript_key, chapters,
     persons, version) = row
    if isinstance(persons, str):  # SQLite hands JSON over as text
        persons = json.loads(persons)
    ext = fmt or (audio_key or "").rsplit(".", 1)[-1]
    when = _as_time(published_at or created_at)
    assert when is not None
    media = f"{base_attr}/media/episodes/{feed_attr(episode_id)}"
    current = f"{media}/v{media_version(version)}"
    transcripts = [(f"{current}/transcript.{f}{query_attr}", mt, language, cap)
                   for f, mt, cap in _TRANSCRIPTS] if transcript_key else []
    people = [(str(p.get("name") or ""), str(p.get("role") or "guest"), None, None)
              for p in (persons or ()) if isinstance(p, dict) and p.get("name")]
    xml = item_text(
        guid=guid, title=title, notes_html=notes, link=None,
        enclosure_url=f"{current}/audio.{feed_attr(ext)}{query_attr}", length=int(size or 0),
        media_type=media_type_for(f"audio.{ext}"), published_at=when,
        duration_seconds=float(duration or 0.0),
        explicit=None if explicit is None else bool(explicit), image_url=None,
        season=season, number=number, episode_type=episode_type, transcripts=transcripts,
        chapters_url=f"{media}/chapters.json{query_attr}"
        if chapters not in (None, "", "null", "[]") else None,
        persons=people)
    return (when, guid), xml


def build_feed(db: DbSession, show: Show, *, base_url: str, token: str | None,
               now: datetime, fragments: Fragments | None = None) -> FeedDocument:
    """The feed document of ``show`` as it stands at ``now``, in the session's transaction.

    Incremental: one narrow query lists the visible items with what their XML depends on
    (their publication's and episode's `updated_at` and version); only items not in
    ``fragments`` under that key are read in full and written, so a feed rebuilt after one
    change writes one item. The cache only saves work: its keys are read from the
    database in this transaction, so a change made by any process misses it."""
    state = session_feed_state(db, show.id, now)
    if state is None:
        raise NotFound("feed not found")
    fragments = {} if fragments is None else fragments
    conn = db.connection()
    cursor = conn.connection.dbapi_connection.cursor  # type: ignore[union-attr]
    stamps = _fetchall(cursor, _stamps_sql(conn.dialect.paramstyle),
                       (show.id, _db_time(conn.dialect.name, now)))
    # the stored values as they come (text on SQLite): the same on every read here
    keys = {row[0]: (row[0], row[1], row[2], row[3], base_url, token, show.language)
            for row in stamps}
    missing = [pid for pid, key in keys.items() if key not in fragments]
    dialect, paramstyle = conn.dialect.name, conn.dialect.paramstyle
    base_attr = feed_attr(base_url.rstrip("/"))
    query_attr = feed_attr(f"?token={token}") if token else ""
    written: list[tuple[str, str, str]] = []
    if missing:  # what another process (or this one, earlier) wrote, where still current
        stored = _stored_xml(cursor, missing, paramstyle, show.id)
        stamp_of = {row[0]: row for row in stamps}
        still: list[str] = []
        for pid in missing:
            hit = stored.get(pid)
            if hit is not None and hit[0] == _xml_key(keys[pid]):
                row = stamp_of[pid]
                when = _as_time(row[5] or row[6])  # as `_row_fragment` sorts it
                assert when is not None
                sort = (when, row[4])
                fragments[keys[pid]] = (sort, _with_links(hit[1], base_attr, query_attr))
            else:
                still.append(pid)
        missing = still
    for i in range(0, len(missing), 500):
        chunk = missing[i:i + 500]
        for row in _fetchall(cursor, _items_sql(dialect, paramstyle, len(chunk)), chunk):
            if row[0] in keys:
                sort, template = _row_fragment(row, BASE_MARK, TOKEN_MARK, show.language)
                fragments[keys[row[0]]] = (sort, _with_links(template, base_attr, query_attr))
                written.append((row[0], _xml_key(keys[row[0]]), template))
    entries = sorted((fragments[k] for k in keys.values() if k in fragments), reverse=True)
    doc = FeedShow(
        title=show.title, description=show.description, language=show.language,
        feed_url=shows.feed_url(show, base_url, token), podcast_guid=show.podcast_guid,
        category=show.category, subcategory=show.subcategory, link=show.link,
        explicit=show.explicit, author=show.author or None,
        owner_name=show.owner_name or None, owner_email=show.owner_email or None,
        copyright=show.copyright or None, type=show.type, locked=show.locked,
        private=show.private, image_url=shows.artwork_url(show, base_url, token),
        built_at=state.last_modified,
    )
    content = render_document(doc, [xml for _sort, xml in entries])
    return FeedDocument(content, state.etag(base_url, token), state.last_modified,
                        written=written)


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


def current_chapters(db: DbSession, store: Store, ep: Episode) -> list[Chapter]:
    """The episode's chapters in the time of its newest completed version: as stored when
    they were set on it, else moved from the version they were set on through both
    versions' edit lists (`chapters.map_chapters`, as the render moves the ID3 chapters)."""
    stored = stored_chapters(ep.settings)
    if not stored or not ep.version:
        return stored
    old_key = episodes.chapters_edit_key(db, ep, ep.version)
    if old_key is None:
        return stored
    try:
        old, new = episodes.chapter_base(store, old_key), episodes.chapter_base(store, ep.edit_list_key)
    except Exception as exc:  # an edit list unreadable: the chapters as they were set
        log.warning("publication.chapters_unmapped", episode_id=ep.id, error=repr(exc)[:300])
        return stored
    if old is None or new is None:
        return stored
    return map_chapters(stored, old_edit=old.edit_list, old_offset=old.programme_offset_seconds,
                        new_edit=new.edit_list, new_offset=new.programme_offset_seconds,
                        new_duration=ep.duration_seconds or None)


def set_chapters(db: DbSession, user_id: str, episode_id: str, raw: list[dict[str, Any]], *,
                 now: datetime) -> list[Chapter]:
    """Set an episode's chapters (episode time). They are the one source of the feed's
    chapters file and of the MP3's ID3 chapters at the next render (`render.chapters`)."""
    ep = episodes.get_episode(db, user_id, episode_id, for_update=True)
    chapters = validate_chapters(raw, duration=ep.duration_seconds or None)
    settings = dict(ep.settings or {})
    render = dict(settings.get("render") or {})
    render["chapters"] = [c.to_dict() for c in chapters] or None
    render["chapters_version"] = ep.version or None  # in the time of the version served now
    settings["render"] = render
    ep.settings = settings  # a new dict: the JSON column sees the change
    pub = get_publication(db, ep.id)
    if pub is not None and pub.show_id:
        show = db.get(Show, pub.show_id)
        if show is not None:
            shows.feed_changed(show, now)
    db.flush()
    return chapters
