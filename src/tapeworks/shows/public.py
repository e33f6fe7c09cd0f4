"""The public routes of shows (rule 14): feeds and their media, without login.

A public show's feed and media need nothing; a private show's carry `?token=` (only its
hash is stored; rotating it stops the old one at once). Unknown, unpublished, scheduled
for later and wrongly-tokened are all the same 404. Every route answers HEAD, sends
`ETag`/`Last-Modified` and honours conditional GETs (304); audio answers byte ranges;
transcripts and chapters carry `Access-Control-Allow-Origin: *` so web players can read them.

Paths (issue 13): `/feeds/{show_id}.xml`, `/media/episodes/{id}/v{n}/audio.{ext}`,
`/media/episodes/{id}/v{n}/transcript.{vtt,srt,json}`, `/media/episodes/{id}/chapters.json`,
`/media/shows/{show_id}/artwork.{jpg,png}`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from tapeworks.errors import ArtifactMissing, NotFound
from tapeworks.http.deps import DbDep, RuntimeDep, get_runtime, request_db
from tapeworks.http.ranges import media_type_for, parse_range, stream_object
from tapeworks.sessions.endpoints import status_reader
from tapeworks.sessions.models import RecordingSession
from tapeworks.shows import publishing
from tapeworks.shows import service as shows
from tapeworks.shows.chapters import CHAPTERS_MEDIA_TYPE, to_chapters_json
from tapeworks.shows.conditional import etag_of, not_modified, validator_headers
from tapeworks.shows.feed import FEED_MEDIA_TYPE
from tapeworks.shows.models import Show
from tapeworks.shows.transcript_json import TRANSCRIPT_MEDIA_TYPES, to_podcast_json
from tapeworks.transcripts.exporters import to_srt, to_vtt

if TYPE_CHECKING:
    from tapeworks.runtime import Runtime

router = APIRouter(tags=["public"])
F = TypeVar("F", bound=Callable[..., Any])

Token = Annotated[str | None, Query(max_length=200, description="a private show's token")]
FEED_POLL_SECONDS = 300
NOT_FOUND = {404: {"description": "unknown, not published (yet), or a private show's URL "
                                  "without its current token"}}
CORS = {"Access-Control-Allow-Origin": "*", "Access-Control-Expose-Headers":
        "ETag, Last-Modified, Content-Length, Content-Range"}


def base_url(rt: Runtime, request: Request) -> str:
    """`TAPEWORKS_PUBLIC_URL` when set, else the request's origin (forwarded headers are
    believed only from `TAPEWORKS_TRUSTED_PROXIES`, by the middleware)."""
    if rt.settings.public_url:
        return rt.settings.public_url.rstrip("/")
    return str(request.base_url).rstrip("/")


def get_and_head(path: str, **kwargs: Any) -> Callable[[F], F]:
    """A GET route that answers HEAD too (HEAD kept out of the OpenAPI document, where it
    would repeat the GET's operation)."""
    def deco(fn: F) -> F:
        router.head(path, include_in_schema=False, response_class=Response)(fn)
        router.get(path, **kwargs)(fn)
        return fn
    return deco


def _cache(private: bool, seconds: int = FEED_POLL_SECONDS) -> str:
    return f"{'private' if private else 'public'}, max-age={seconds}"


def _answer(request: Request, etag: str, last: datetime | None, cache: str,
            extra: dict[str, str] | None = None) -> Response | None:
    """304 when the client's copy is current, else None (the caller builds the body)."""
    if not_modified(request.headers, etag, last):
        return Response(status_code=304, headers={**validator_headers(etag, last, cache),
                                                  **(extra or {})})
    return None


def _body(request: Request, content: bytes, media_type: str, headers: dict[str, str]) -> Response:
    """A document built here (feed, transcript, chapters): HEAD, and one byte range when
    asked (of the bytes as sent: the gzip-coded ones when coded), as the media files."""
    headers = {**headers, "Accept-Ranges": "bytes"}
    if request.method == "HEAD":
        return Response(status_code=200, media_type=media_type,
                        headers={**headers, "Content-Length": str(len(content))})
    rng = request.headers.get("range")
    if_range = request.headers.get("if-range")
    if rng and if_range and if_range.strip() != headers.get("ETag"):
        rng = None  # the client's partial copy is of other bytes: send them all
    span = parse_range(rng, len(content)) if rng else None
    if span is not None:
        start, end = span
        return Response(content[start:end + 1], status_code=206, media_type=media_type,
                        headers={**headers, "Content-Range": f"bytes {start}-{end}/{len(content)}"})
    return Response(content, media_type=media_type, headers=headers)


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo else t.replace(tzinfo=UTC)


# --- the feed ---------------------------------------------------------------------------------
class FeedCache:
    """Per process: the last few feed documents by their ETag (which covers the show, the
    visible items, the base URL and the token in the links, and is read from the database
    on every request), and each item's XML by what it depends on (`publishing.build_feed`).
    Nothing here is trusted without that check, so several processes on one database serve
    the same feed; a change in one is seen by the others at their next request."""

    MAX_FRAGMENTS = 20_000

    def __init__(self, size: int = 8) -> None:
        self.size = size
        self.fragments: publishing.Fragments = {}
        self._docs: OrderedDict[str, publishing.FeedDocument] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, etag: str) -> publishing.FeedDocument | None:
        with self._lock:
            doc = self._docs.get(etag)
            if doc is not None:
                self._docs.move_to_end(etag)
            return doc

    def put(self, doc: publishing.FeedDocument) -> None:
        with self._lock:
            self._docs[doc.etag] = doc
            self._docs.move_to_end(doc.etag)
            while len(self._docs) > self.size:
                self._docs.popitem(last=False)

    def item_fragments(self) -> publishing.Fragments:
        if len(self.fragments) > self.MAX_FRAGMENTS:
            self.fragments = {}  # bounded: start again rather than grow
        return self.fragments

    def clear(self) -> None:
        with self._lock:
            self._docs.clear()
            self.fragments = {}


def feed_cache(request: Request) -> FeedCache:
    state = request.app.state
    cache: FeedCache | None = getattr(state, "feed_cache", None)
    if cache is None:
        cache = state.feed_cache = FeedCache()
    return cache


def _gzip_tag(etag: str) -> str:
    """The ETag of the gzip-coded bytes (a strong ETag names one set of bytes)."""
    return etag[:-1] + '-gz"'


def _accepts_gzip(request: Request) -> bool:
    for part in request.headers.get("accept-encoding", "").split(","):
        name, _, q = part.strip().partition(";")
        if name.strip().lower() in ("gzip", "*"):
            return q.replace(" ", "").lower() not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


def _feed_response(request: Request, doc: publishing.FeedDocument, private: bool) -> Response:
    headers = {**validator_headers(doc.etag, doc.last_modified, _cache(private)),
               "Vary": "Accept-Encoding"}
    if _accepts_gzip(request):
        headers["ETag"] = _gzip_tag(doc.etag)
        headers["Content-Encoding"] = "gzip"
        content = doc.gzipped()
    else:
        content = doc.content
    return _body(request, content, f"{FEED_MEDIA_TYPE}; charset=utf-8", headers)


def _feed_answer(request: Request, rt: Runtime, show_id: str, token: str | None,
                 state: publishing.FeedState | None) -> Response | None:
    """The answer from the feed's state alone: 404, 304 or a document this process holds
    for the current ETag; None when the document must be built."""
    if state is None or not state.allows(token):
        raise NotFound("feed not found")
    link_token = token if state.private else None
    etag = state.etag(base_url(rt, request), link_token)
    cache = _cache(state.private)
    for tag in (etag, _gzip_tag(etag)):
        if not_modified(request.headers, tag, state.last_modified):
            return Response(status_code=304, headers={
                **validator_headers(tag, state.last_modified, cache), "Vary": "Accept-Encoding"})
    doc = feed_cache(request).get(etag)
    return None if doc is None else _feed_response(request, doc, state.private)


def _build_feed(request: Request, rt: Runtime, show_id: str, token: str | None,
                now: datetime) -> Response:
    """The thread-pool part: the state again (a networked database), then the document."""
    db = request_db(request)  # closed by the app's context middleware
    state = publishing.session_feed_state(db, show_id, now)
    early = _feed_answer(request, rt, show_id, token, state)
    if early is not None:
        return early
    assert state is not None
    show = db.get(Show, show_id)
    if show is None:
        raise NotFound("feed not found")
    cache = feed_cache(request)
    doc = publishing.build_feed(db, show, base_url=base_url(rt, request),
                                token=token if state.private else None, now=now,
                                fragments=cache.item_fragments())
    cache.put(doc)
    response = _feed_response(request, doc, state.private)
    if doc.written:  # for the other processes: after the answer, in a transaction of its own
        response.background = BackgroundTask(publishing.store_item_xml, rt.database,
                                              doc.written)
        doc.written = []
    return response


@get_and_head("/feeds/{show_id}.xml", response_class=Response,
                  responses={200: {"content": {FEED_MEDIA_TYPE: {}}},
                             304: {"description": "not modified"}, **NOT_FOUND})
async def feed(show_id: str, request: Request, token: Token = None) -> Response:
    """The show's RSS 2.0 feed (itunes, podcast and atom namespaces), as it stands now
    (gzip-coded for a client that accepts it).

    Feed readers poll this every few minutes with If-None-Match: the answer comes from one
    small query of the feed's state (`publishing.FeedState`) and, when nothing changed, is
    a 304 or the document this process already holds. On SQLite that query reads a local
    file (tens of microseconds), cheaper than the hop to the thread pool, so it runs right
    here; on PostgreSQL it runs in the event loop on the pollers' async pool
    (`sessions.polling`, one round trip). Building the document takes one hop."""
    rt = get_runtime(request)
    now = rt.clock()
    engine = rt.database.engine
    if engine.dialect.name == "sqlite":
        early = _feed_answer(request, rt, show_id, token,
                             publishing.feed_state(engine, show_id, now))
        if early is not None:
            return early
    else:  # the pollers' async pool: one round trip in the event loop, no thread hop
        sql, params = publishing.feed_state_query(engine.dialect.name, "pyformat", show_id,
                                                  now)
        answered, row = await status_reader(request).fetchone(sql, params)
        if answered:
            early = _feed_answer(request, rt, show_id, token,
                                 publishing.feed_state_of(show_id, row, now))
            if early is not None:
                return early
    return await run_in_threadpool(_build_feed, request, rt, show_id, token, now)


# --- an item's media --------------------------------------------------------------------------
def _redirect_to_current(request: Request, item: publishing.PublicItem,
                         version: int) -> Response | None:
    current = publishing.media_version(item.episode.version)
    if version == current:
        return None
    path = request.url.path.replace(f"/v{version}/", f"/v{current}/", 1)
    query = f"?{request.url.query}" if request.url.query else ""
    return RedirectResponse(path + query, status_code=307)


@get_and_head("/media/episodes/{episode_id}/v{version}/audio.{ext}", response_class=Response,
                  responses={200: {"content": {"audio/*": {}}},
                             206: {"description": "partial content"},
                             304: {"description": "not modified"}, **NOT_FOUND})
def episode_audio(episode_id: str, version: Annotated[int, Path(ge=0, le=1_000_000)],
                  ext: str, request: Request, db: DbDep, rt: RuntimeDep,
                  token: Token = None) -> Response:
    """The item's audio (its newest completed render), with byte ranges."""
    item = publishing.public_item(db, episode_id, token, rt.clock())
    moved = _redirect_to_current(request, item, version)
    if moved is not None:
        return moved
    ep = item.episode
    key = ep.audio_key or ""
    if ext.lower() != (ep.format or key.rsplit(".", 1)[-1]).lower():
        raise NotFound("not found")
    head = rt.store.head(key)
    if head is None:
        raise ArtifactMissing("the audio of this episode is missing from storage")
    etag = etag_of(key, head.etag, head.size)
    cache = _cache(item.show.private, 3600)
    headers = {**validator_headers(etag, _aware(head.last_modified), cache),
               "Accept-Ranges": "bytes"}
    early = _answer(request, etag, head.last_modified, cache, {"Accept-Ranges": "bytes"})
    if early is not None:
        return early
    if request.method == "HEAD":
        return Response(status_code=200, media_type=media_type_for(key),
                        headers={**headers, "Content-Length": str(head.size)})
    rng = request.headers.get("range")
    if_range = request.headers.get("if-range")
    if rng and if_range and if_range.strip() != etag:
        rng = None  # the client's partial copy is of other bytes: send them all
    resp = stream_object(rt.store, key, head.size, rng)
    resp.headers.update(headers)
    return resp


def _transcript_response(request: Request, db: DbSession, rt: Runtime,
                         item: publishing.PublicItem, fmt: str) -> Response:
    ep = item.episode
    if fmt not in TRANSCRIPT_MEDIA_TYPES or not ep.transcript_key:
        raise NotFound("not found")
    # the speakers are named as in the session now (a rename after the render shows here,
    # as in the feed's podcast:person); the session's transcript version says when
    naming = db.scalar(select(RecordingSession.transcript_version)
                       .where(RecordingSession.id == ep.session_id))
    etag = etag_of(ep.transcript_key, ep.updated_at, naming, item.publication.title, fmt)
    last = _aware(ep.completed_at or ep.updated_at)
    cache = _cache(item.show.private, 3600)
    early = _answer(request, etag, last, cache, CORS)
    if early is not None:
        return early
    t = publishing.served_transcript(db, rt.store, ep)
    title = item.publication.title
    if fmt == "vtt":
        content = to_vtt(t, title).encode("utf-8")
    elif fmt == "srt":
        content = to_srt(t).encode("utf-8")
    else:
        content = to_podcast_json(t)
    media = TRANSCRIPT_MEDIA_TYPES[fmt]
    return _body(request, content, f"{media}; charset=utf-8",
                 {**validator_headers(etag, last, cache), **CORS})


@get_and_head("/media/episodes/{episode_id}/v{version}/transcript.{fmt}", response_class=Response,
                  responses={200: {"content": {"text/vtt": {}, "application/x-subrip": {},
                                               "application/json": {}}},
                             304: {"description": "not modified"}, **NOT_FOUND})
def episode_transcript(episode_id: str, version: Annotated[int, Path(ge=0, le=1_000_000)],
                       fmt: str, request: Request, db: DbDep, rt: RuntimeDep,
                       token: Token = None) -> Response:
    """The item's transcript, re-timed to its audio: WebVTT with `<v Name>` speaker voices,
    SRT, or Podcast Index transcript JSON."""
    item = publishing.public_item(db, episode_id, token, rt.clock())
    moved = _redirect_to_current(request, item, version)
    if moved is not None:
        return moved
    return _transcript_response(request, db, rt, item, fmt)


@get_and_head("/media/episodes/{episode_id}/chapters.json",
                  response_class=Response,
                  responses={200: {"content": {CHAPTERS_MEDIA_TYPE: {}}},
                             304: {"description": "not modified"}, **NOT_FOUND})
def episode_chapters(episode_id: str, request: Request, db: DbDep, rt: RuntimeDep,
                     token: Token = None) -> Response:
    """The item's chapters, Podcasting 2.0 JSON chapters 1.2.0."""
    item = publishing.public_item(db, episode_id, token, rt.clock())
    ep = item.episode
    render = (ep.settings or {}).get("render") or {}
    if not render.get("chapters"):
        raise NotFound("not found")
    etag = etag_of(render.get("chapters"), render.get("chapters_version"), ep.version,
                   ep.edit_list_key, item.publication.title, item.show.title, item.show.author)
    last = _aware(ep.updated_at)
    cache = _cache(item.show.private)
    early = _answer(request, etag, last, cache, CORS)
    if early is not None:
        return early
    chapters = publishing.current_chapters(db, rt.store, ep)
    if not chapters:
        raise NotFound("not found")
    content = to_chapters_json(chapters, title=item.publication.title,
                               podcast_name=item.show.title, author=item.show.author or None)
    return _body(request, content, CHAPTERS_MEDIA_TYPE,
                 {**validator_headers(etag, last, cache), **CORS})


# --- the show's artwork -----------------------------------------------------------------------
@get_and_head("/media/shows/{show_id}/artwork.{ext}",
                  response_class=Response,
                  responses={200: {"content": {"image/jpeg": {}, "image/png": {}}},
                             304: {"description": "not modified"}, **NOT_FOUND})
def show_artwork(show_id: str, ext: str, request: Request, db: DbDep, rt: RuntimeDep,
                 token: Token = None) -> Response:
    show = shows.show_by_feed_token(db, show_id, token)
    if not show.artwork_key or (ext.lower() != show.artwork_format):
        raise NotFound("not found")
    head = rt.store.head(show.artwork_key)
    if head is None:
        raise ArtifactMissing("the show's artwork is missing from storage")
    etag = etag_of(show.artwork_key, head.etag, head.size)
    cache = _cache(show.private, 3600)
    early = _answer(request, etag, head.last_modified, cache)
    if early is not None:
        return early
    media = "image/png" if show.artwork_format == "png" else "image/jpeg"
    headers = validator_headers(etag, _aware(head.last_modified), cache)
    if request.method == "HEAD":
        return Response(status_code=200, media_type=media,
                        headers={**headers, "Content-Length": str(head.size)})
    resp = stream_object(rt.store, show.artwork_key, head.size, request.headers.get("range"))
    resp.headers.update(headers)
    resp.headers["Content-Type"] = media
    return resp
