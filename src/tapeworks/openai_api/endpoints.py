"""The OpenAI-compatible routes: `POST /v1/audio/transcriptions` and `GET /v1/models`.

Outside `/api/v1` on purpose, with OpenAI's error shape (`errors.translate`) so its clients
show our messages. A call is a real session: it goes through the same intake, probe, plan
checks and quotas as `POST /api/v1/sessions`, appears in the library, and the handler waits
for the transcription without holding a thread (an `asyncio.sleep` between short reads).
If the client goes away the session still completes in the library. A recording longer than
`TAPEWORKS_SYNC_MAX_SECONDS` is refused (413) with a pointer to the sessions API.
"""

from __future__ import annotations

import asyncio
import math
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from tapeworks.errors import (
    NotFound,
    PayloadTooLarge,
    TapeworksError,
    Unauthorized,
    ValidationFailed,
)
from tapeworks.http.intake import probe_upload, receive_upload
from tapeworks.http.middleware import own_body_limit
from tapeworks.logging import get_logger
from tapeworks.openai_api import errors
from tapeworks.openai_api.formats import RESPONSE_FORMATS, TIMESTAMP_GRANULARITIES, render
from tapeworks.openai_api.languages import language_code
from tapeworks.plans import enforcement
from tapeworks.sessions import service as sessions
from tapeworks.sessions.models import RecordingSession
from tapeworks.users import service as users
from tapeworks.users.deps import request_token
from tapeworks.users.service import Principal, resolve_token

if TYPE_CHECKING:
    from tapeworks.runtime import Runtime

log = get_logger("tapeworks.openai_api")
router = APIRouter(prefix="/v1", tags=["openai-compatible"])
ALIAS = "whisper-1"
MODEL_CREATED = 1764633600  # fixed: the models are the server's own
POLL_SECONDS = (0.05, 0.1, 0.2, 0.25)
FINISHED = ("completed", "failed", "cancelled")


def _rid(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


def _error(request: Request, exc: TapeworksError) -> JSONResponse:
    code, body = errors.translate(exc, _rid(request))
    return JSONResponse(body, status_code=code)


def model_names(rt: Runtime) -> list[str]:
    return [rt.settings.speech_model, ALIAS]


def _principal(rt: Runtime, request: Request) -> Principal:
    token = request_token(request)
    if token is None:
        raise Unauthorized("send your tapeworks API token as 'Authorization: Bearer <token>'")
    with rt.database.transaction(write=False) as db:
        return resolve_token(db, token)


@router.get("/models")
async def list_models(request: Request) -> Response:
    """The speech models this server transcribes with (`whisper-1` is the default's alias)."""
    rt: Runtime = request.app.state.runtime
    try:
        await run_in_threadpool(_principal, rt, request)
    except TapeworksError as exc:
        return _error(request, exc)
    return JSONResponse({"object": "list", "data": [
        {"id": name, "object": "model", "created": MODEL_CREATED, "owned_by": "tapeworks"}
        for name in model_names(rt)]})


def _options(rt: Runtime, fields: dict[str, str], lists: dict[str, list[str]]) -> dict[str, Any]:
    model = (fields.get("model") or "").strip()
    if not model:
        raise ValidationFailed("'model' is required (see GET /v1/models)",
                               details={"field": "model"})
    if model not in model_names(rt):
        raise NotFound(f"the model {model!r} does not exist here; models: "
                       f"{', '.join(model_names(rt))}", details={"field": "model"})
    fmt = (fields.get("response_format") or "json").strip()
    if fmt not in RESPONSE_FORMATS:
        raise ValidationFailed(f"response_format must be one of {', '.join(RESPONSE_FORMATS)}",
                               details={"field": "response_format"})
    grans = lists.get("timestamp_granularities[]") or lists.get("timestamp_granularities") \
        or ["segment"]
    bad = [g for g in grans if g not in TIMESTAMP_GRANULARITIES]
    if bad:
        raise ValidationFailed("timestamp_granularities[] takes 'word' and 'segment'",
                               details={"field": "timestamp_granularities[]"})
    language = (fields.get("language") or "").strip() or None
    if language is not None:
        code = language_code(language)
        if code is None:
            raise ValidationFailed(f"{language!r} is not a language this server knows "
                                   "(use an ISO-639-1 code such as 'en')",
                                   details={"field": "language"})
        language = code
    temperature = fields.get("temperature")
    if temperature is not None and temperature.strip():
        try:
            t = float(temperature)
        except ValueError:
            t = math.nan
        if not (math.isfinite(t) and 0.0 <= t <= 1.0):
            raise ValidationFailed("temperature must be a number from 0 to 1",
                                   details={"field": "temperature"})
    return {"format": fmt, "granularities": tuple(grans), "language": language}


def _accept(rt: Runtime, principal: Principal, upload: Any, language: str | None,
            prompt: str | None = None) -> str:
    assert upload.path is not None
    limit = rt.settings.sync_max_seconds
    rec = probe_upload(upload.path, upload.filename, max_seconds=limit)
    if rec.info.over_limit or rec.info.duration_seconds > limit:
        raise PayloadTooLarge(
            f"this recording is longer than {limit / 60:g} minutes, the most one "
            "/v1/audio/transcriptions call transcribes; upload it to /api/v1/sessions "
            "and fetch the transcript when it is ready",
            details={"limit_type": "sync_max_seconds", "limit": limit})
    session = sessions.accept_recording(
        rt, principal, path=upload.path, filename=upload.filename, size_bytes=upload.size,
        title=None, language=language, speakers=None, idempotency_key=None,
        vocabulary=users.vocabulary_from_prompt(prompt))  # the prompt is the vocabulary
    return session.id


def _state(rt: Runtime, session_id: str) -> tuple[str, str | None]:
    with rt.database.transaction(write=False) as db:
        s = db.get(RecordingSession, session_id)
        if s is None:
            return "cancelled", "the recording was deleted before it was transcribed"
        return s.status, s.error


def _transcript(rt: Runtime, session_id: str) -> Any:
    with rt.database.transaction(write=False) as db:
        s = db.get(RecordingSession, session_id)
        assert s is not None
        return sessions.load_transcript(rt, s)


@router.post("/audio/transcriptions", openapi_extra={"requestBody": {"required": True,
             "content": {"multipart/form-data": {"schema": {
                 "type": "object", "required": ["file", "model"],
                 "properties": {"file": {"type": "string", "format": "binary"},
                                "model": {"type": "string"}, "language": {"type": "string"},
                                "prompt": {"type": "string"},
                                "response_format": {"type": "string",
                                                    "enum": list(RESPONSE_FORMATS)},
                                "temperature": {"type": "number"},
                                "timestamp_granularities[]": {
                                    "type": "array",
                                    "items": {"type": "string",
                                              "enum": list(TIMESTAMP_GRANULARITIES)}}}}}}}})
@own_body_limit
async def create_transcription(request: Request) -> Response:
    """Transcribe a recording and answer in OpenAI's format; the recording also appears in
    the library as a session."""
    rt: Runtime = request.app.state.runtime
    upload = None
    try:
        principal = await run_in_threadpool(_principal, rt, request)
        max_bytes = await run_in_threadpool(enforcement.upload_byte_limit, rt, principal)
        upload = await receive_upload(request, rt.settings.scratch_dir / "uploads",
                                      max_bytes=max_bytes)
        if upload.path is None:
            raise ValidationFailed("'file' is required: send the recording as multipart "
                                   "form data", details={"field": "file"})
        opts = _options(rt, upload.fields, upload.field_lists)
        session_id = await run_in_threadpool(_accept, rt, principal, upload, opts["language"],
                                             upload.fields.get("prompt"))
    except TapeworksError as exc:
        return _error(request, exc)
    except Exception as exc:  # logged with its trace; the client gets OpenAI's error shape
        log.exception("openai_api.unexpected_error", error=repr(exc)[:300])
        code, body = errors.unexpected(_rid(request))
        return JSONResponse(body, status_code=code)
    finally:
        if upload is not None:
            upload.discard()
    n = 0
    while True:
        status, error = await run_in_threadpool(_state, rt, session_id)
        if status in FINISHED:
            break
        await asyncio.sleep(POLL_SECONDS[min(n, len(POLL_SECONDS) - 1)])
        n += 1
    if status != "completed":
        code, body = 500, errors.error_body(
            error or f"the transcription was {status}", type="server_error",
            code="transcription_failed", request_id=_rid(request))
        return JSONResponse(body, status_code=code, headers={"x-session-id": session_id})
    try:
        transcript = await run_in_threadpool(_transcript, rt, session_id)
    except TapeworksError as exc:
        return _error(request, exc)
    out = render(transcript, opts["format"], granularities=opts["granularities"])
    headers = {"x-session-id": session_id}
    if out.data is not None:
        return JSONResponse(out.data, headers=headers)
    return Response(out.text or "", media_type=out.media_type, headers=headers)
