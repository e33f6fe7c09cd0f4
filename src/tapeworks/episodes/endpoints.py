"""Episodes, assets and templates API. Handlers translate HTTP into service calls."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session as DbSession

from tapeworks.episodes import service
from tapeworks.episodes.models import EpisodeTemplate
from tapeworks.episodes.schemas import (
    AssetOut,
    BleepOut,
    CutOut,
    CutsIn,
    EditListOut,
    EpisodeCreate,
    EpisodeOut,
    EpisodePatch,
    EpisodeSettingsIn,
    EpisodeVersionOut,
    EpisodeVersionsOut,
    NarratorOut,
    SpeechAssetIn,
    TemplateIn,
    TemplateOut,
)
from tapeworks.http.conditional import json_with_etag
from tapeworks.http.deps import DbDep, RuntimeDep
from tapeworks.http.intake import ReceivedUpload, probe_upload, receive_upload
from tapeworks.http.middleware import own_body_limit
from tapeworks.http.ranges import content_disposition, stream_object
from tapeworks.plans import enforcement
from tapeworks.queue.mirror import JobStatusOut
from tapeworks.sessions import service as sessions
from tapeworks.users.deps import CurrentUser
from tapeworks.users.service import Principal

if TYPE_CHECKING:
    from tapeworks.runtime import Runtime

router = APIRouter(tags=["episodes"])
episodes = APIRouter(prefix="/episodes", tags=["episodes"])
assets = APIRouter(prefix="/assets", tags=["assets"])
templates = APIRouter(prefix="/templates", tags=["templates"])
narrators = APIRouter(prefix="/narrators", tags=["assets"])


# --- episodes ---------------------------------------------------------------------------------
@router.post("/sessions/{session_id}/episodes", status_code=status.HTTP_201_CREATED,
             response_model=EpisodeOut)
def create_episode(session_id: str, principal: CurrentUser, db: DbDep, rt: RuntimeDep,
                   body: EpisodeCreate | None = None) -> EpisodeOut:
    """Produce an episode from a transcribed session (empty body = sensible defaults)."""
    body = body or EpisodeCreate()
    settings = EpisodeSettingsIn(**{k: v for k, v in (("cleaning", body.cleaning),
                                                      ("loudness", body.loudness),
                                                      ("render", body.render)) if v is not None})
    ep = service.create_episode(db, rt, principal, session_id=session_id, title=body.title,
                                template_id=body.template_id, settings_in=settings)
    return EpisodeOut.of(ep)


@router.get("/sessions/{session_id}/episodes", response_model=list[EpisodeOut])
def session_episodes(session_id: str, principal: CurrentUser, db: DbDep) -> list[EpisodeOut]:
    sessions.get_session(db, principal.user_id, session_id)
    return [EpisodeOut.of(e) for e in service.list_episodes(db, principal.user_id, session_id)]


@episodes.get("", response_model=list[EpisodeOut])
def list_episodes(principal: CurrentUser, db: DbDep) -> list[EpisodeOut]:
    return [EpisodeOut.of(e) for e in service.list_episodes(db, principal.user_id)]


@episodes.get("/{episode_id}", response_model=EpisodeOut)
def get_episode(episode_id: str, principal: CurrentUser, db: DbDep) -> EpisodeOut:
    return EpisodeOut.of(service.get_episode(db, principal.user_id, episode_id))


@episodes.patch("/{episode_id}", response_model=EpisodeOut)
def patch_episode(episode_id: str, body: EpisodePatch, principal: CurrentUser, db: DbDep) -> EpisodeOut:
    """Set the episode's title (written into the audio's tags at the next render)."""
    return EpisodeOut.of(service.rename_episode(db, principal.user_id, episode_id, body.title))


@episodes.get("/{episode_id}/status", response_model=JobStatusOut,
              responses={304: {"description": "not modified (If-None-Match names the ETag)"}})
def episode_status(episode_id: str, request: Request, principal: CurrentUser, db: DbDep) -> Response:
    return json_with_etag(request, JobStatusOut.of(service.get_episode(db, principal.user_id,
                                                                        episode_id)))


@episodes.get("/{episode_id}/audio", response_class=Response,
              responses={200: {"content": {"audio/*": {}}}, 206: {"description": "partial content"}})
def episode_audio(episode_id: str, request: Request, principal: CurrentUser, db: DbDep,
                  rt: RuntimeDep, download: bool = False,
                  version: Annotated[int | None, Query(ge=1, le=1_000_000)] = None) -> Response:
    """The newest completed version's audio (also while a new version is being made), or
    that of `version`."""
    e = service.get_episode(db, principal.user_id, episode_id)
    v = service.get_version(db, e, version) if version is not None else None
    key, size = service.episode_audio(rt, e, v)
    fmt = v.format if v is not None else e.format
    name = f"{e.title} (version {v.version}).{fmt}" if v is not None else f"{e.title}.{fmt}"
    return stream_object(rt.store, key, size, request.headers.get("range"),
                         filename=name, inline=not download)


@episodes.get("/{episode_id}/versions", response_model=EpisodeVersionsOut)
def episode_versions(episode_id: str, principal: CurrentUser, db: DbDep) -> EpisodeVersionsOut:
    """Every render of the episode, newest first: each completed one stays downloadable
    (`GET .../audio?version=n`)."""
    e = service.get_episode(db, principal.user_id, episode_id)
    return EpisodeVersionsOut(current_version=e.version or 0, versions=[
        EpisodeVersionOut(version=v.version, status=st, current=v.version == e.version,
                          format=v.format, duration_seconds=v.duration_seconds,
                          size_bytes=v.size_bytes, created_at=v.created_at,
                          completed_at=v.completed_at)
        for v, st in service.list_versions(db, e)])


@episodes.put("/{episode_id}/cuts", response_model=EpisodeOut, status_code=status.HTTP_202_ACCEPTED)
def put_cuts(episode_id: str, body: CutsIn, principal: CurrentUser, db: DbDep,
             rt: RuntimeDep) -> EpisodeOut:
    """Set the cuts and make a new version: `restore` lists ids of automatic cuts (from the
    edit list) whose audio is kept; `add` the user's own cuts, by source seconds or word
    indices (replacing the previous user cuts). The current audio stays served until the
    new version is complete. 409 while a version is being made."""
    return EpisodeOut.of(service.set_cuts(
        db, rt, principal.user_id, episode_id, restore=body.restore,
        add=[a.model_dump() for a in body.add]))


@episodes.get("/{episode_id}/transcript", response_class=Response)
def episode_transcript(
    episode_id: str, principal: CurrentUser, db: DbDep, rt: RuntimeDep,
    format: Annotated[str, Query(pattern="^(json|txt|srt|vtt|docx|pdf|xlsx)$")] = "json",
    download: bool = False,
) -> Response:
    """The transcript re-timed to the episode audio (words in cuts removed)."""
    e = service.get_episode(db, principal.user_id, episode_id)
    result = service.export_episode_transcript(db, rt, principal, e, format)
    return Response(result.content, media_type=result.media_type, headers={
        "Content-Disposition": content_disposition(result.filename, inline=not download)})


@episodes.get("/{episode_id}/edit-list", response_model=EditListOut)
def episode_edit_list(episode_id: str, principal: CurrentUser, db: DbDep, rt: RuntimeDep) -> EditListOut:
    """What was cut: each cut's source range, kind, the words it removed, and where the join
    lands in the episode (to play before/after)."""
    view = service.edit_list_view(db, rt, service.get_episode(db, principal.user_id, episode_id))
    return EditListOut(
        source_duration=view.source_duration, episode_duration=view.episode_duration,
        programme_offset_seconds=view.programme_offset_seconds,
        cuts=[CutOut(id=c.id, kind=c.kind, reason=c.reason, applied=c.applied,
                     source_start=c.source_start, source_end=c.source_end,
                     seconds=round(c.source_end - c.source_start, 3),
                     episode_time=c.episode_time, words=c.words,
                     word_indices=list(c.word_indices)) for c in view.cuts],
        bleeps=[BleepOut(reason=b.reason, source_start=b.source_start, source_end=b.source_end,
                         episode_start=b.episode_start, words=b.words) for b in view.bleeps])


@episodes.post("/{episode_id}/retry", response_model=EpisodeOut)
def retry_episode(episode_id: str, principal: CurrentUser, db: DbDep, rt: RuntimeDep) -> EpisodeOut:
    """Make the episode again as a new version (a failed, cancelled or completed one)."""
    return EpisodeOut.of(service.retry_episode(db, rt, principal.user_id, episode_id))


@episodes.post("/{episode_id}/cancel", response_model=EpisodeOut)
def cancel_episode(episode_id: str, principal: CurrentUser, db: DbDep) -> EpisodeOut:
    return EpisodeOut.of(service.cancel_episode(db, principal.user_id, episode_id))


@episodes.delete("/{episode_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_episode(episode_id: str, principal: CurrentUser, db: DbDep, rt: RuntimeDep) -> None:
    service.delete_episode(db, rt, principal.user_id, episode_id)


# --- assets -----------------------------------------------------------------------------------
ASSET_UPLOAD_DOC = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"],
    "properties": {"file": {"type": "string", "format": "binary"}, "name": {"type": "string"},
                   "kind": {"type": "string", "enum": ["intro", "outro", "music", "other"]}}}}}}}


@assets.post("", status_code=status.HTTP_201_CREATED, response_model=AssetOut,
             openapi_extra=ASSET_UPLOAD_DOC)
@own_body_limit
async def upload_asset(request: Request, principal: CurrentUser) -> JSONResponse:
    """Upload an intro, outro or music file (validated like a recording)."""
    rt: Runtime = request.app.state.runtime
    limit = await run_in_threadpool(service.asset_upload_limit, rt, principal)
    upload = await receive_upload(request, rt.settings.scratch_dir / "uploads", max_bytes=limit)
    try:
        out = await run_in_threadpool(_accept_asset, rt, principal, upload)
    finally:
        upload.discard()
    return JSONResponse(out.model_dump(mode="json"), status_code=201)


def _accept_asset(rt: Runtime, principal: Principal, upload: ReceivedUpload) -> AssetOut:
    assert upload.path is not None
    rec = probe_upload(upload.path, upload.filename,
                       max_seconds=enforcement.recording_seconds_limit(rt, principal))
    return AssetOut.of(service.accept_asset(rt, principal, rec, name=upload.fields.get("name") or "",
                                            kind=upload.fields.get("kind") or "other"))


@assets.post("/speech", status_code=status.HTTP_202_ACCEPTED, response_model=AssetOut)
def create_speech_asset(body: SpeechAssetIn, principal: CurrentUser, rt: RuntimeDep) -> AssetOut:
    """An intro, outro or music asset spoken by a narrator from text (at most 5,000
    characters). Answers 202 with the asset `processing`; poll `GET /assets/{id}` until it
    is `completed` (or `failed`, with the narrator's error). Used like an uploaded asset,
    levelled the same way."""
    request = service.check_speech_request(rt, principal, text=body.text, narrator=body.narrator,
                                           name=body.name, kind=body.kind)
    asset = rt.database.run(lambda db: service.create_speech_asset(db, rt, principal, request))
    return AssetOut.of(asset)


@narrators.get("", response_model=list[NarratorOut])
def list_narrators(principal: CurrentUser, rt: RuntimeDep) -> list[NarratorOut]:
    """The text-to-speech narrators of this server, the default first when it has any."""
    del principal  # signed-in users only
    found = rt.narrators.list()
    default = found[0].id if found else None
    return [NarratorOut(**n.to_dict(), default=n.id == default) for n in found]


@assets.get("", response_model=list[AssetOut])
def list_assets(principal: CurrentUser, db: DbDep) -> list[AssetOut]:
    return [AssetOut.of(a) for a in service.list_assets(db, principal.user_id)]


@assets.get("/{asset_id}", response_model=AssetOut)
def get_asset(asset_id: str, principal: CurrentUser, db: DbDep) -> AssetOut:
    return AssetOut.of(service.get_asset(db, principal.user_id, asset_id))


@assets.get("/{asset_id}/audio", response_class=Response)
def asset_audio(asset_id: str, request: Request, principal: CurrentUser, db: DbDep,
                rt: RuntimeDep) -> Response:
    a = service.get_asset(db, principal.user_id, asset_id)
    key, size = service.asset_audio(rt, a)
    return stream_object(rt.store, key, size, request.headers.get("range"), filename=a.filename)


@assets.delete("/{asset_id}", status_code=status.HTTP_204_NO_CONTENT,
               responses={409: {"description": "the asset is used by templates (named in "
                                               "`error.details.templates`); `?force=true` "
                                               "takes it out of them and deletes it"}})
def delete_asset(asset_id: str, principal: CurrentUser, db: DbDep, rt: RuntimeDep,
                 force: bool = False) -> None:
    service.delete_asset(db, rt, principal.user_id, asset_id, force=force)


# --- templates --------------------------------------------------------------------------------
def _template_out(db: DbSession, user_id: str, tpl: EpisodeTemplate) -> TemplateOut:
    return TemplateOut.of(tpl, service.assets_of_templates(db, user_id, [tpl]))


@templates.post("", status_code=status.HTTP_201_CREATED, response_model=TemplateOut)
def create_template(body: TemplateIn, principal: CurrentUser, db: DbDep) -> TemplateOut:
    tpl = service.save_template(db, principal.user_id, template_id=None, **body.model_dump())
    return _template_out(db, principal.user_id, tpl)


@templates.get("", response_model=list[TemplateOut])
def list_templates(principal: CurrentUser, db: DbDep) -> list[TemplateOut]:
    """Templates with the assets each holds (`assets`: role, id, name, kind, duration)."""
    tpls = service.list_templates(db, principal.user_id)
    held = service.assets_of_templates(db, principal.user_id, tpls)
    return [TemplateOut.of(t, held) for t in tpls]


@templates.get("/{template_id}", response_model=TemplateOut)
def get_template(template_id: str, principal: CurrentUser, db: DbDep) -> TemplateOut:
    return _template_out(db, principal.user_id, service.get_template(db, principal.user_id, template_id))


@templates.put("/{template_id}", response_model=TemplateOut)
def update_template(template_id: str, body: TemplateIn, principal: CurrentUser, db: DbDep) -> TemplateOut:
    tpl = service.save_template(db, principal.user_id, template_id=template_id, **body.model_dump())
    return _template_out(db, principal.user_id, tpl)


@templates.delete("/{template_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_template(template_id: str, principal: CurrentUser, db: DbDep) -> None:
    service.delete_template(db, principal.user_id, template_id)


router.include_router(episodes)
router.include_router(assets)
router.include_router(templates)
router.include_router(narrators)
