"""The library (search, upload with live progress) and the session page."""

from __future__ import annotations

import json
import math
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from tapeworks.errors import TapeworksError
from tapeworks.sessions import service as sessions
from tapeworks.sessions.models import RETRYABLE_STATUSES, SESSION_STATUSES, UNFINISHED_STATUSES
from tapeworks.sessions.schemas import SessionOut
from tapeworks.transcripts.exporters import EXPORT_FORMATS
from tapeworks.transcripts.model import SPEAKER_ROLES
from tapeworks.web.common import (
    ACCEPT_AUDIO,
    AUDIO_EXTENSIONS,
    EXPORT_LABELS,
    PAGE_SIZE,
    ctx,
    page_errors,
    plain_failure,
    plan_summary,
    render,
    require_user,
    runtime_of,
)

router = APIRouter(include_in_schema=False)


# --- library ---------------------------------------------------------------------------------
@router.get("/", response_class=HTMLResponse)
def library(
    request: Request,
    q: Annotated[str, Query(max_length=200)] = "",
    status: Annotated[str, Query(max_length=100)] = "",
    page: Annotated[int, Query(ge=1, le=100000)] = 1,
) -> Response:
    principal = require_user(request)
    rt = runtime_of(request)
    status = status if status in SESSION_STATUSES else ""
    with rt.database.transaction(write=False) as db, page_errors():
        rows, total = sessions.list_sessions(db, principal.user_id, status=status or None,
                                             q=q.strip() or None, limit=PAGE_SIZE,
                                             offset=(page - 1) * PAGE_SIZE)
        items = [SessionOut.of(s) for s in rows]
        failures = {s.id: plain_failure(s) for s in rows if s.status == "failed"}
        plan = plan_summary(db, rt, principal)
    pages = max(1, math.ceil(total / PAGE_SIZE))

    def page_url(n: int) -> str:
        params = {k: v for k, v in (("q", q), ("status", status), ("page", str(n))) if v}
        return "/?" + urlencode(params)

    return render(request, "library.html", ctx(
        request, items=items, total=total, q=q, status=status, statuses=SESSION_STATUSES,
        page=page, pages=pages, failures=failures, prev_url=page_url(page - 1) if page > 1 else None,
        next_url=page_url(page + 1) if page < pages else None, plan=plan,
        unfinished=UNFINISHED_STATUSES,
        upload_config=json.dumps({
            "maxFileBytes": plan["max_file_bytes"],
            "maxRecordingSeconds": plan["max_recording_seconds"],
            "remainingSeconds": plan["remaining_seconds"],
            "extensions": AUDIO_EXTENSIONS,
        }),
        accept=ACCEPT_AUDIO,
    ), principal=principal)


# --- session page ----------------------------------------------------------------------------
@router.get("/sessions/{session_id}", response_class=HTMLResponse)
def session_page(request: Request, session_id: str) -> Response:
    principal = require_user(request)
    rt = runtime_of(request)
    transcript: dict[str, Any] | None = None
    transcript_error: str | None = None
    with rt.database.transaction(write=False) as db, page_errors():
        s = sessions.get_session(db, principal.user_id, session_id)
        out = SessionOut.of(s)
        plan = plan_summary(db, rt, principal)
        failure = plain_failure(s) if s.status in RETRYABLE_STATUSES else None
        if s.transcript_version > 0:
            try:
                transcript = sessions.load_transcript(rt, s).model_dump(mode="json")
            except TapeworksError as exc:
                transcript_error = f"The transcript could not be loaded: {exc.message}"
    return render(request, "session.html", ctx(
        request, s=out, plan=plan, failure=failure, roles=SPEAKER_ROLES,
        transcript_json=json.dumps(transcript).replace("<", "\\u003c") if transcript else "null",
        transcript_error=transcript_error, unfinished=UNFINISHED_STATUSES,
        export_formats=plan["export_formats"], export_labels=EXPORT_LABELS,
        other_formats=[f for f in EXPORT_FORMATS if f not in plan["export_formats"]],
    ), principal=principal)
