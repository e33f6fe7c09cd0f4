"""Shows and share-link API. Handlers translate HTTP into service calls; `get_db` commits."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, Request, Response, status
from fastapi.concurrency import run_in_threadpool

from tapeworks.db.base import utcnow
from tapeworks.episodes import service as episodes_service
from tapeworks.episodes.schemas import EpisodeOut
from tapeworks.http.deps import DbDep, RuntimeDep
from tapeworks.http.intake import receive_upload
from tapeworks.http.middleware import own_body_limit
from tapeworks.shows import publishing, service
from tapeworks.shows.artwork import MAX_ARTWORK_BYTES
from tapeworks.shows.models import Show
from tapeworks.shows.schemas import (
    ChapterIn,
    ChaptersOut,
    PublicationOut,
    PublishedEpisodeOut,
    PublishIn,
    ShareIn,
    ShareOut,
    ShowIn,
    ShowOut,
)
from tapeworks.users.deps import CurrentUser

if TYPE_CHECKING:
    from tapeworks.runtime import Runtime

router = APIRouter(tags=["shows"])
shows = APIRouter(prefix="/shows", tags=["shows"])
shares = APIRouter(tags=["shares"])
published = APIRouter(prefix="/episodes", tags=["publishing"])

ARTWORK_DOC = {
    "requestBody": {
        "required": True,
        "content": {"multipart/form-data": {"schema": {
            "type": "object", "required": ["file"],
            "properties": {"file": {"type": "string", "format": "binary",
                                    "description": "JPEG or PNG, square, 1400-3000 px, RGB"}},
        }}},
    }
}


def base_url(rt: Runtime, request: Request) -> str:
    """Absolute URLs: `TAPEWORKS_PUBLIC_URL` when set, else the request's own origin."""
    if rt.settings.public_url:
        return rt.settings.public_url.rstrip("/")
    return str(request.base_url).rstrip("/")


def show_out(show: Show, base: str, token: str | None = None) -> ShowOut:
    return ShowOut.of(show, feed_url=service.feed_url(show, base, token),
                      artwork_url=service.artwork_url(show, base, token), feed_token=token)


# --- shows ------------------------------------------------------------------------------------
@shows.post("", status_code=status.HTTP_201_CREATED, response_model=ShowOut)
def create_show(body: ShowIn, request: Request, principal: CurrentUser, db: DbDep,
                rt: RuntimeDep) -> ShowOut:
    base = base_url(rt, request)
    made = service.create_show(db, principal.user_id, body.changes(), base_url=base,
                               now=utcnow())
    return show_out(made.show, base, made.feed_token)


@shows.get("", response_model=list[ShowOut])
def list_shows(request: Request, principal: CurrentUser, db: DbDep,
               rt: RuntimeDep) -> list[ShowOut]:
    base = base_url(rt, request)
    return [show_out(s, base) for s in service.list_shows(db, principal.user_id)]


@shows.get("/{show_id}", response_model=ShowOut)
def get_show(show_id: str, request: Request, principal: CurrentUser, db: DbDep,
             rt: RuntimeDep) -> ShowOut:
    return show_out(service.get_show(db, principal.user_id, show_id), base_url(rt, request))


@shows.patch("/{show_id}", response_model=ShowOut)
def update_show(show_id: str, body: ShowIn, request: Request, principal: CurrentUser,
                db: DbDep, rt: RuntimeDep) -> ShowOut:
    changed = service.update_show(db, principal.user_id, show_id, body.changes(), now=utcnow())
    return show_out(changed.show, base_url(rt, request), changed.feed_token)


@shows.delete("/{show_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_show(show_id: str, principal: CurrentUser, db: DbDep, rt: RuntimeDep) -> Response:
    service.delete_show(db, rt.store, principal.user_id, show_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@shows.post("/{show_id}/feed-token", response_model=ShowOut)
def rotate_feed_token(show_id: str, request: Request, principal: CurrentUser, db: DbDep,
                      rt: RuntimeDep) -> ShowOut:
    """A new token for a private show's feed and media URLs; the old one stops at once."""
    changed = service.rotate_feed_token(db, principal.user_id, show_id, now=utcnow())
    return show_out(changed.show, base_url(rt, request), changed.feed_token)


@shows.put("/{show_id}/artwork", response_model=ShowOut, openapi_extra=ARTWORK_DOC)
@own_body_limit
async def put_artwork(show_id: str, request: Request, principal: CurrentUser,
                      rt: RuntimeDep) -> ShowOut:
    """Artwork, checked on the real bytes: JPEG or PNG, square, 1400-3000 px, RGB."""
    upload = await receive_upload(request, rt.settings.scratch_dir / "uploads",
                                  max_bytes=MAX_ARTWORK_BYTES)
    try:
        if upload.path is None:
            from tapeworks.errors import BadRequest

            raise BadRequest("send the image as multipart/form-data in a 'file' field")
        data = upload.path.read_bytes()
    finally:
        upload.discard()
    base = base_url(rt, request)
    return await run_in_threadpool(_put_artwork, rt, principal.user_id, show_id, data,
                                   upload.filename, base)


def _put_artwork(rt: Runtime, user_id: str, show_id: str, data: bytes, filename: str,
                 base: str) -> ShowOut:
    with rt.database.transaction() as db:
        show = service.set_artwork(db, rt.store, user_id, show_id, data, filename, now=utcnow())
        return show_out(show, base)


# --- share links ------------------------------------------------------------------------------
@shares.post("/sessions/{session_id}/shares", status_code=status.HTTP_201_CREATED,
             response_model=ShareOut)
def create_share(session_id: str, body: ShareIn, request: Request, principal: CurrentUser,
                 db: DbDep, rt: RuntimeDep) -> ShareOut:
    """A read-only link to this session's transcript and audio; the URL is shown only here."""
    made = service.create_share(db, principal.user_id, session_id, expires_at=body.expires_at,
                                allow_download=body.allow_download, now=rt.clock())
    return ShareOut.of(made.link, url=f"{base_url(rt, request)}{service.share_path(made.token)}")


@shares.get("/sessions/{session_id}/shares", response_model=list[ShareOut])
def list_shares(session_id: str, principal: CurrentUser, db: DbDep) -> list[ShareOut]:
    return [ShareOut.of(link) for link in service.list_shares(db, principal.user_id, session_id)]


@shares.delete("/shares/{share_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_share(share_id: str, principal: CurrentUser, db: DbDep, rt: RuntimeDep) -> Response:
    service.revoke_share(db, principal.user_id, share_id, now=rt.clock())
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- publishing an episode --------------------------------------------------------------------
def _published_out(db: DbDep, user_id: str, episode_id: str) -> PublishedEpisodeOut:
    ep = episodes_service.get_episode(db, user_id, episode_id)
    pub = publishing.get_publication(db, episode_id)
    return PublishedEpisodeOut(**EpisodeOut.of(ep).model_dump(),
                               publication=PublicationOut.of(pub) if pub else None)


@published.post("/{episode_id}/publish", response_model=PublishedEpisodeOut,
                responses={409: {"description": "the episode is not completed, or is "
                                                "published in another show"}})
def publish_episode(episode_id: str, body: PublishIn, principal: CurrentUser, db: DbDep,
                    rt: RuntimeDep) -> PublishedEpisodeOut:
    """Publish (or re-publish, or edit) the episode's item in a show. Idempotent: one item
    per episode, its guid never changes. A future `publish_at` schedules it."""
    publishing.publish(db, principal.user_id, episode_id, body.model_dump(exclude_unset=True),
                       now=rt.clock(), hooks=rt.publication_hooks, store=rt.store)
    return _published_out(db, principal.user_id, episode_id)


@published.post("/{episode_id}/unpublish", response_model=PublishedEpisodeOut)
def unpublish_episode(episode_id: str, principal: CurrentUser, db: DbDep,
                      rt: RuntimeDep) -> PublishedEpisodeOut:
    """Take the item out of its feed; publishing again later keeps its guid."""
    publishing.unpublish(db, principal.user_id, episode_id, now=rt.clock(),
                         hooks=rt.publication_hooks)
    return _published_out(db, principal.user_id, episode_id)


@published.get("/{episode_id}/publication", response_model=PublishedEpisodeOut)
def get_publication(episode_id: str, principal: CurrentUser, db: DbDep) -> PublishedEpisodeOut:
    """The episode with its `publication` (null when it was never published)."""
    return _published_out(db, principal.user_id, episode_id)


@published.get("/{episode_id}/chapters", response_model=ChaptersOut)
def get_chapters(episode_id: str, principal: CurrentUser, db: DbDep,
                 rt: RuntimeDep) -> ChaptersOut:
    """The chapters in the episode time of its newest completed version (set on an earlier
    version, they are moved through both versions' edit lists)."""
    ep = episodes_service.get_episode(db, principal.user_id, episode_id)
    return ChaptersOut.of(publishing.current_chapters(db, rt.store, ep))


@published.put("/{episode_id}/chapters", response_model=ChaptersOut)
def put_chapters(episode_id: str, body: list[ChapterIn], principal: CurrentUser, db: DbDep,
                 rt: RuntimeDep) -> ChaptersOut:
    """Set the chapters (`[{start, title, url?}]`, in the episode time of its newest
    completed version): the feed's chapters file serves them at once, the MP3's ID3
    chapters carry them from the next render; later versions keep them by mapping
    through the edit lists (a cut before a chapter moves it earlier by the cut's length,
    a chapter inside a removed span moves to the cut point)."""
    chapters = publishing.set_chapters(db, principal.user_id, episode_id,
                                       [c.model_dump(exclude_none=True) for c in body],
                                       now=rt.clock())
    return ChaptersOut.of(chapters)


router.include_router(shows)
router.include_router(published)
router.include_router(shares)
