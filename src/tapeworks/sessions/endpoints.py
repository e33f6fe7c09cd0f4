"""Sessions API. Handlers translate HTTP into service calls; `get_db` owns the transaction."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Header, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from tapeworks.errors import ValidationFailed
from tapeworks.http.conditional import json_with_etag
from tapeworks.http.deps import DbDep, RuntimeDep, get_runtime, request_db
from tapeworks.http.inputs import MAX_SECONDS, PageOffset
from tapeworks.http.intake import ReceivedUpload, receive_upload
from tapeworks.http.middleware import own_body_limit
from tapeworks.http.ranges import content_disposition, stream_object
from tapeworks.plans import enforcement
from tapeworks.queue.mirror import JobStatusOut
from tapeworks.sessions import notes, service, tracks
from tapeworks.sessions.polling import AsyncStatusReader
from tapeworks.sessions.schemas import (
    DirectUploadComplete,
    DirectUploadIn,
    DirectUploadOut,
    EditsRequest,
    NoteIn,
    NoteOut,
    NotePatch,
    SegmentPatch,
    SessionOut,
    SessionPage,
    SessionPatch,
    SpeakersPatch,
    TranscriptRestoreIn,
    WaveformOut,
)
from tapeworks.transcripts.exporters import export
from tapeworks.transcripts.model import Transcript
from tapeworks.users.deps import CurrentUser, current_principal, request_token
from tapeworks.users.service import Principal, hash_token

if TYPE_CHECKING:
    from tapeworks.runtime import Runtime

router = APIRouter(prefix="/sessions", tags=["sessions"])

UPLOAD_DOC = {
    "requestBody": {
        "required": True,
        "content": {"multipart/form-data": {"schema": {
            "type": "object", "required": ["file"],
            "description": "One file for a recording; for a multitrack recording one file "
                           "per speaker, each with a 'track_names' entry in the same order "
                           "(and optionally a 'track_offsets' entry, seconds from the start)",
            "properties": {
                "track_names": {"type": "array", "items": {"type": "string"},
                                "description": "one per file: the speaker each track records"},
                "track_offsets": {"type": "array", "items": {"type": "number"},
                                  "description": "one per file, seconds (default 0)"},
                "file": {"type": "array", "items": {"type": "string", "format": "binary"},
                         "description": "the recording, or one file per track"},
                "title": {"type": "string"},
                "language": {"type": "string", "description": "e.g. 'en'; empty = auto-detect"},
                "speakers": {"type": "string", "description": "1-10, or 'auto'"},
                "client_id": {"type": "string", "description": "the client the session was with"},
                "vocabulary": {"type": "string", "description": "comma-separated terms (up to "
                               "100) the speech engine should expect; default: the account's"},
            },
        }}},
    }
}


@router.post("", status_code=status.HTTP_201_CREATED, response_model=SessionOut,
             openapi_extra=UPLOAD_DOC)
@own_body_limit
async def create_session(
    request: Request,
    principal: CurrentUser,
    idempotency_key: Annotated[str | None, Header(max_length=128)] = None,
) -> JSONResponse:
    """Upload a recording (streamed, size-limited, probed) and queue its transcription."""
    rt: Runtime = request.app.state.runtime
    if idempotency_key:
        existing = await run_in_threadpool(_existing, rt, principal, idempotency_key)
        if existing is not None:
            return JSONResponse(existing.model_dump(mode="json"), status_code=200)
    max_bytes = await run_in_threadpool(_upload_limit, rt, principal)
    upload = await receive_upload(request, rt.settings.scratch_dir / "uploads", max_bytes=max_bytes,
                                  max_files=tracks.MAX_TRACKS)
    try:
        out = await run_in_threadpool(_accept_upload, rt, principal, upload, idempotency_key)
    finally:
        upload.discard()
    return JSONResponse(out.model_dump(mode="json", exclude_none=False), status_code=201)


def _existing(rt: Runtime, principal: Principal, key: str) -> SessionOut | None:
    with rt.database.transaction(write=False) as db:
        found = service.find_by_idempotency_key(db, principal.user_id, key)
        return SessionOut.of(found) if found else None


def _upload_limit(rt: Runtime, principal: Principal) -> int:
    return enforcement.upload_byte_limit(rt, principal)


def _accept_upload(rt: Runtime, principal: Principal, upload: ReceivedUpload,
                   idempotency_key: str | None) -> SessionOut:
    assert upload.path is not None
    if tracks.is_multitrack(len(upload.files), list(upload.field_lists)):
        files = tracks.track_files([(f.path, f.filename) for f in upload.files],
                                   upload.field_lists.get("track_names"),
                                   upload.field_lists.get("track_offsets"))
        session, rows = tracks.accept_tracks(
            rt, principal, files=files, title=upload.fields.get("title"),
            language=upload.fields.get("language"), idempotency_key=idempotency_key,
            client_id=upload.fields.get("client_id"), vocabulary=upload.fields.get("vocabulary"))
        return SessionOut.of(session, rows)
    session = service.accept_recording(
        rt, principal, path=upload.path, filename=upload.filename, size_bytes=upload.size,
        title=upload.fields.get("title"), language=upload.fields.get("language"),
        speakers=upload.fields.get("speakers"), idempotency_key=idempotency_key,
        client_id=upload.fields.get("client_id"), vocabulary=upload.fields.get("vocabulary"))
    return SessionOut.of(session)


@router.post("/uploads", status_code=status.HTTP_201_CREATED, response_model=DirectUploadOut)
def start_direct_upload(body: DirectUploadIn, principal: CurrentUser, rt: RuntimeDep) -> DirectUploadOut:
    """Direct-to-bucket upload (S3 stores): PUT the file to the returned URL, then call
    `POST /sessions/uploads/{upload_id}/complete`. The API never carries the bytes."""
    return DirectUploadOut(**service.start_direct_upload(rt, principal, filename=body.filename,
                                                         size_bytes=body.size_bytes,
                                                         content_type=body.content_type))


@router.post("/uploads/{upload_id}/complete", status_code=status.HTTP_201_CREATED,
             response_model=SessionOut)
def complete_direct_upload(upload_id: str, body: DirectUploadComplete, principal: CurrentUser,
                           rt: RuntimeDep) -> SessionOut:
    """Probe the uploaded object like any upload and queue its transcription."""
    return SessionOut.of(service.complete_direct_upload(
        rt, principal, upload_id, filename=body.filename, title=body.title,
        language=body.language, speakers=body.speakers, vocabulary=body.vocabulary))


@router.get("", response_model=SessionPage)
def list_sessions(
    principal: CurrentUser, db: DbDep,
    status_: Annotated[str | None, Query(alias="status", description="comma-separated statuses")] = None,
    q: Annotated[str | None, Query(max_length=200, description="search title and transcript text")] = None,
    client_id: Annotated[str | None, Query(max_length=32, description="this client's sessions")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: PageOffset = 0,
) -> SessionPage:
    rows, total = service.list_sessions(db, principal.user_id, status=status_, q=q, limit=limit,
                                        offset=offset, client_id=client_id)
    return SessionPage(items=[SessionOut.of(s) for s in rows], total=total, limit=limit, offset=offset)


@router.get("/{session_id}", response_model=SessionOut)
def get_session(session_id: str, principal: CurrentUser, db: DbDep) -> SessionOut:
    s = service.get_session(db, principal.user_id, session_id)
    return SessionOut.of(s, tracks.list_tracks(db, s.id) if s.track_count else None)


TRACK_DOC = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file", "name"],
    "properties": {"file": {"type": "string", "format": "binary"},
                   "name": {"type": "string", "description": "the speaker the track records"},
                   "offset": {"type": "number", "description": "seconds from the start (default 0)"}},
}}}}}


@router.post("/{session_id}/tracks", status_code=status.HTTP_201_CREATED, response_model=SessionOut,
             openapi_extra=TRACK_DOC)
@own_body_limit
async def add_track(session_id: str, request: Request, principal: CurrentUser) -> JSONResponse:
    """One more track for a multitrack recording, before its transcription starts (409
    after, or for a recording uploaded as one file)."""
    rt: Runtime = request.app.state.runtime
    await run_in_threadpool(tracks.check_can_add, rt, principal, session_id)
    max_bytes = await run_in_threadpool(_upload_limit, rt, principal)
    upload = await receive_upload(request, rt.settings.scratch_dir / "uploads", max_bytes=max_bytes)
    try:
        out = await run_in_threadpool(_add_track, rt, principal, session_id, upload)
    finally:
        upload.discard()
    return JSONResponse(out.model_dump(mode="json"), status_code=201)


def _add_track(rt: Runtime, principal: Principal, session_id: str, upload: ReceivedUpload) -> SessionOut:
    assert upload.path is not None
    name = upload.fields.get("name") or upload.fields.get("track_names")
    offset = upload.fields.get("offset") or upload.fields.get("track_offsets")
    file = tracks.TrackFile(upload.path, upload.filename, tracks.parse_name(name, "the track"),
                            tracks.parse_offset(offset, "the track"))
    session, rows = tracks.add_track(rt, principal, session_id, file)
    return SessionOut.of(session, rows)


@router.patch("/{session_id}", response_model=SessionOut)
def patch_session(session_id: str, body: SessionPatch, principal: CurrentUser, db: DbDep,
                  rt: RuntimeDep) -> SessionOut:
    """Rename a recording, or change its coaching-log fields (client, date, type, paid,
    billable minutes; only the fields sent change, null clears client and minutes)."""
    values = body.model_dump(exclude_unset=True)
    title = values.pop("title", None)
    if title is not None:
        service.rename_session(db, principal.user_id, session_id, title, rt.session_hooks)
    session = service.get_session(db, principal.user_id, session_id, for_update=True)
    if values:
        service.update_log_fields(db, session, values)
    return SessionOut.of(session)


@router.delete("/{session_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_session(session_id: str, principal: CurrentUser, db: DbDep, rt: RuntimeDep) -> None:
    service.delete_session(db, rt, principal.user_id, session_id)


@router.get("/{session_id}/status", response_model=JobStatusOut,
            responses={304: {"description": "not modified (If-None-Match names the ETag)"}})
async def session_status(session_id: str, request: Request) -> Response:
    """Pollers' route: one query of plain columns answers a valid token, with an ETag
    (send it back in If-None-Match for a 304 without a body). Anything else takes the
    ordinary path, which answers 401 with the reason or 404. On SQLite the query is a
    read of a local file (tens of microseconds), cheaper than the hop to the thread pool,
    so it runs right here; a networked database gets one hop for the whole request
    (dependencies would each take their own)."""
    engine = get_runtime(request).database.engine
    token = request_token(request)
    out = None
    if token and engine.dialect.name == "sqlite":
        out = service.poll_status(engine, hash_token(token), session_id)
    elif token:
        out = await status_reader(request).poll(hash_token(token), session_id)
    if out is not None:
        return json_with_etag(request, out)
    return await run_in_threadpool(_session_status, request, session_id, token)


def status_reader(request: Request) -> AsyncStatusReader:
    """The app's reader for the pollers' query on a networked database (made once)."""
    state = request.app.state
    reader = getattr(state, "status_reader", None)
    if reader is None:
        reader = state.status_reader = AsyncStatusReader(get_runtime(request).database.url)
        state.on_stop_async.append(reader.close)
    return reader


def _session_status(request: Request, session_id: str, token: str | None) -> Response:
    """The ordinary path: 401 with the reason, or 404, or the status after a fast path
    that could not answer."""
    principal = current_principal(request)
    db = request_db(request)  # closed by the app's context middleware
    out = JobStatusOut.of(service.get_session(db, principal.user_id, session_id))
    return json_with_etag(request, out)


@router.post("/{session_id}/retry", response_model=SessionOut)
def retry_session(session_id: str, principal: CurrentUser, db: DbDep, rt: RuntimeDep) -> SessionOut:
    return SessionOut.of(service.retry_session(db, rt, principal.user_id, session_id))


@router.post("/{session_id}/cancel", response_model=SessionOut)
def cancel_session(session_id: str, principal: CurrentUser, db: DbDep) -> SessionOut:
    return SessionOut.of(service.cancel_session(db, principal.user_id, session_id))


@router.get("/{session_id}/audio", response_class=Response,
            responses={200: {"content": {"audio/*": {}}}, 206: {"description": "partial content"}})
def session_audio(session_id: str, request: Request, principal: CurrentUser, db: DbDep,
                  rt: RuntimeDep) -> Response:
    """The source recording, with HTTP range requests (for seeking in a player)."""
    s = service.get_session(db, principal.user_id, session_id)
    key, size = service.source_info(rt, s)
    return stream_object(rt.store, key, size, request.headers.get("range"),
                         filename=s.source_filename or f"{s.title}.{s.source_format}")


@router.get("/{session_id}/waveform", response_model=WaveformOut)
def session_waveform(
    session_id: str, principal: CurrentUser, rt: RuntimeDep,
    start: Annotated[float | None, Query(ge=0, le=MAX_SECONDS, allow_inf_nan=False)] = None,
    end: Annotated[float | None, Query(gt=0, le=MAX_SECONDS, allow_inf_nan=False)] = None,
    buckets: Annotated[int | None, Query(ge=1, le=service.DETAIL_MAX_BUCKETS)] = None,
) -> WaveformOut:
    """Peaks of the source audio for drawing it: the whole recording by default, or a span
    of at most two minutes (`start`, `end`, `buckets`) in more detail."""
    with rt.database.transaction(write=False) as db:
        src = service.waveform_source(db, rt, principal.user_id, session_id)
    peaks = service.waveform(rt, src, start=start, end=end, buckets=buckets)
    return WaveformOut(duration_seconds=src.duration, start=peaks.start,
                       bucket_seconds=peaks.bucket_seconds, peaks=peaks.peaks)


@router.get("/{session_id}/transcript", response_class=Response,
            responses={200: {"content": {"application/json": {}, "text/plain": {},
                                         "application/x-subrip": {}, "text/vtt": {}}}})
def session_transcript(
    session_id: str, principal: CurrentUser, db: DbDep, rt: RuntimeDep,
    format: Annotated[str, Query(pattern="^(json|txt|srt|vtt|docx|pdf|xlsx)$")] = "json",
    version: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
    download: bool = False,
) -> Response:
    s = service.get_session(db, principal.user_id, session_id)
    enforcement.check_export(db, rt, principal, format)
    transcript = service.load_transcript(rt, s, version)
    result = export(transcript, format, title=s.title,
                    notes=notes.for_export(notes.notes_of(db, s.id)))
    return Response(result.content, media_type=result.media_type, headers={
        "Content-Disposition": content_disposition(result.filename, inline=not download)})


def _edit(db: service.DbSession, rt: Runtime, principal: Principal, session_id: str,
          ops: list[dict[str, object]]) -> JSONResponse:
    edited = service.edit_transcript(db, rt, principal.user_id, session_id, ops)
    return JSONResponse(edited.model_dump(mode="json"))


@router.patch("/{session_id}/speakers")
def patch_speakers(session_id: str, body: SpeakersPatch, principal: CurrentUser, db: DbDep,
                   rt: RuntimeDep) -> JSONResponse:
    """Rename speakers or set their roles (coach, client, host, guest, other)."""
    ops: list[dict[str, object]] = []
    for sp in body.speakers:
        op: dict[str, object] = {"op": "update_speaker", "speaker_id": sp.id}
        fields = sp.model_fields_set
        if "name" in fields and sp.name is not None:
            op["name"] = sp.name
        if "role" in fields:
            op["role"] = sp.role
        ops.append(op)
    return _edit(db, rt, principal, session_id, ops)


@router.patch("/{session_id}/segments/{segment_id}")
def patch_segment(session_id: str, segment_id: str, body: SegmentPatch, principal: CurrentUser,
                  db: DbDep, rt: RuntimeDep) -> JSONResponse:
    """Edit a segment's text (unchanged words keep their timings) or reassign its speaker."""
    ops: list[dict[str, object]] = []
    if body.text is not None:
        ops.append({"op": "edit_text", "segment_id": segment_id, "text": body.text})
    if body.speaker is not None:
        ops.append({"op": "reassign_segment", "segment_id": segment_id, "speaker_id": body.speaker})
    if not ops:
        raise ValidationFailed("send 'text' and/or 'speaker'")
    return _edit(db, rt, principal, session_id, ops)


@router.post("/{session_id}/transcript/edits")
def post_edits(session_id: str, body: EditsRequest, principal: CurrentUser, db: DbDep,
               rt: RuntimeDep) -> JSONResponse:
    """Several edits (merge, split, add speaker, ...) applied at once as one new version."""
    return _edit(db, rt, principal, session_id, body.ops)



@router.get("/{session_id}/transcript/versions")
def transcript_versions(session_id: str, principal: CurrentUser, db: DbDep,
                        rt: RuntimeDep) -> JSONResponse:
    """The transcript's last 50 versions, newest first (`kind`: transcribed, edit, undo,
    redo, restore; `restored_from` for a version that repeats an earlier one), and
    `can_undo` / `can_redo` from the current version. Read one with
    `GET .../transcript?version=n`."""
    s = service.get_session(db, principal.user_id, session_id)
    return JSONResponse(service.transcript_versions(rt, s))


def _stepped(result: tuple[Transcript, int]) -> JSONResponse:
    """The new current transcript, with `restored_from`: the version it repeats."""
    transcript, restored_from = result
    return JSONResponse({**transcript.model_dump(mode="json"), "restored_from": restored_from})


@router.post("/{session_id}/transcript/undo")
def undo_transcript(session_id: str, principal: CurrentUser, db: DbDep,
                    rt: RuntimeDep) -> JSONResponse:
    """Undo the last change: a new version equal to the one before it (409 when there is
    nothing to undo). Answers the transcript."""
    return _stepped(service.step_transcript(db, rt, principal.user_id, session_id, "undo"))


@router.post("/{session_id}/transcript/redo")
def redo_transcript(session_id: str, principal: CurrentUser, db: DbDep,
                    rt: RuntimeDep) -> JSONResponse:
    """Redo what undo took back, until the next edit (409 when there is nothing to redo)."""
    return _stepped(service.step_transcript(db, rt, principal.user_id, session_id, "redo"))


@router.post("/{session_id}/transcript/restore")
def restore_transcript(session_id: str, body: TranscriptRestoreIn, principal: CurrentUser,
                       db: DbDep, rt: RuntimeDep) -> JSONResponse:
    """Go back to an earlier version: saved as a new version equal to it."""
    return _stepped(service.restore_transcript(db, rt, principal.user_id, session_id,
                                               body.version))


# --- notes and highlights ------------------------------------------------------------------
@router.post("/{session_id}/notes", status_code=status.HTTP_201_CREATED, response_model=NoteOut)
def create_note(session_id: str, body: NoteIn, principal: CurrentUser, db: DbDep,
                rt: RuntimeDep) -> NoteOut:
    """A note on the session, or on a span of the recording (`start`, `end` in seconds);
    with a `colour` it is a highlight."""
    note = notes.create_note(db, rt, principal.user_id, session_id, text=body.text,
                             start=body.start, end=body.end, colour=body.colour)
    return NoteOut.model_validate(note)


@router.get("/{session_id}/notes", response_model=list[NoteOut])
def list_notes(session_id: str, principal: CurrentUser, db: DbDep) -> list[NoteOut]:
    return [NoteOut.model_validate(n) for n in notes.list_notes(db, principal.user_id, session_id)]


@router.get("/{session_id}/notes/{note_id}", response_model=NoteOut)
def get_note(session_id: str, note_id: str, principal: CurrentUser, db: DbDep) -> NoteOut:
    return NoteOut.model_validate(notes.get_note(db, principal.user_id, session_id, note_id))


@router.patch("/{session_id}/notes/{note_id}", response_model=NoteOut)
def patch_note(session_id: str, note_id: str, body: NotePatch, principal: CurrentUser,
               db: DbDep, rt: RuntimeDep) -> NoteOut:
    note = notes.update_note(db, rt, principal.user_id, session_id, note_id,
                             **body.model_dump(exclude_unset=True))
    return NoteOut.model_validate(note)


@router.delete("/{session_id}/notes/{note_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_note(session_id: str, note_id: str, principal: CurrentUser, db: DbDep,
                rt: RuntimeDep) -> None:
    notes.delete_note(db, rt, principal.user_id, session_id, note_id)
