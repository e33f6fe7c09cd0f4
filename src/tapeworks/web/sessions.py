"""The library (search, upload with live progress) and the session page."""

from __future__ import annotations

import json
import math
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from tapeworks.clients import service as clients
from tapeworks.errors import TapeworksError, ValidationFailed
from tapeworks.search import service as search
from tapeworks.sessions import notes
from tapeworks.sessions import service as sessions
from tapeworks.sessions import tracks as session_tracks
from tapeworks.sessions.models import (
    RETRYABLE_STATUSES,
    SESSION_STATUSES,
    SESSION_TYPES,
    UNFINISHED_STATUSES,
)
from tapeworks.sessions.schemas import NoteOut, SessionOut
from tapeworks.sessions.tracks import MAX_TRACKS
from tapeworks.transcripts.exporters import EXPORT_FORMATS
from tapeworks.transcripts.model import SPEAKER_ROLES
from tapeworks.users import service as users
from tapeworks.voices import service as voices
from tapeworks.web.common import (
    ACCEPT_AUDIO,
    AUDIO_EXTENSIONS,
    EXPORT_LABELS,
    PAGE_SIZE,
    ctx,
    page_errors,
    parse_date,
    plain_failure,
    plan_summary,
    render,
    require_user,
    runtime_of,
)

router = APIRouter(include_in_schema=False)
HITS_PER_PAGE = 50  # moments a library search shows at once, grouped by recording
MOMENTS_PER_SESSION = 5
# The highlight colours the page offers (the API takes any #rrggbb); session.css names them.
NOTE_COLOURS = (
    ("#ffe066", "Yellow"),
    ("#b2f2bb", "Green"),
    ("#a5d8ff", "Blue"),
    ("#fcc2d7", "Pink"),
)


# --- library ---------------------------------------------------------------------------------
@router.get("/", response_class=HTMLResponse)
def library(
    request: Request,
    q: Annotated[str, Query(max_length=200)] = "",
    status: Annotated[str, Query(max_length=100)] = "",
    client_id: Annotated[str, Query(max_length=40)] = "",
    date_from: Annotated[str, Query(alias="from", max_length=40)] = "",
    date_to: Annotated[str, Query(alias="to", max_length=40)] = "",
    page: Annotated[int, Query(ge=1, le=100000)] = 1,
) -> Response:
    """The recordings, newest first; with a search, the moments it finds (full-text search
    of transcripts, titles and notes), grouped by recording, best first. ``from``/``to``:
    inclusive session dates (dates in the user's time zone, as the sessions carry them)."""
    principal = require_user(request)
    rt = runtime_of(request)
    status = status if status in SESSION_STATUSES else ""
    q = q.strip()
    search_error: str | None = None
    moments: dict[str, list[search.Hit]] = {}
    try:
        start, end = parse_date(date_from, "from date"), parse_date(date_to, "to date")
        if start and end and start > end:
            raise ValidationFailed("the from date is after the to date", details={"field": "from"})
    except ValidationFailed as exc:
        search_error, start, end = exc.message, None, None
    with rt.database.transaction(write=False) as db, page_errors():
        client_rows, _ = clients.list_clients(db, principal.user_id, limit=1000)
        if client_id not in {c.id for c in client_rows}:
            client_id = ""
        if q or search_error:  # a bad date shows its message and no recordings
            found = None
            if not search_error:
                try:
                    found = search.search(
                        db,
                        principal.user_id,
                        q,
                        client_id=client_id or None,
                        date_from=start,
                        date_to=end,
                        limit=HITS_PER_PAGE,
                        offset=(page - 1) * HITS_PER_PAGE,
                    )
                except ValidationFailed as exc:
                    search_error = exc.message
            for hit in found.hits if found else []:
                moments.setdefault(hit.session_id, []).append(hit)
            rows = [sessions.get_session(db, principal.user_id, sid) for sid in moments]
            rows = [r for r in rows if not status or r.status == status]
            total = len(rows)
            pages = page + 1 if found and found.has_more else page
        else:
            rows, total = sessions.list_sessions(
                db,
                principal.user_id,
                status=status or None,
                limit=PAGE_SIZE,
                offset=(page - 1) * PAGE_SIZE,
                client_id=client_id or None,
                date_from=start,
                date_to=end,
            )
            pages = max(1, math.ceil(total / PAGE_SIZE))
        items = [SessionOut.of(s) for s in rows]
        failures = {s.id: plain_failure(s) for s in rows if s.status == "failed"}
        plan = plan_summary(db, rt, principal)
        vocabulary_default = bool(users.vocabulary(db, principal.user_id))
    client_names = {c.id: c.name for c in client_rows}

    def page_url(n: int) -> str:
        params = {
            k: v
            for k, v in (
                ("q", q),
                ("status", status),
                ("client_id", client_id),
                ("from", date_from),
                ("to", date_to),
                ("page", str(n)),
            )
            if v
        }
        return "/?" + urlencode(params)

    def moment_url(hit: search.Hit) -> str:
        params = {"q": q}
        if hit.start is not None:
            params["t"] = f"{hit.start:.2f}"
        if hit.segment_id:
            params["seg"] = hit.segment_id
        return f"/sessions/{hit.session_id}?" + urlencode(params)

    return render(
        request,
        "library.html",
        ctx(
            request,
            items=items,
            total=total,
            q=q,
            status=status,
            statuses=SESSION_STATUSES,
            date_from=date_from,
            date_to=date_to,
            filtered=bool(q or status or client_id or date_from or date_to),
            page=page,
            pages=pages,
            failures=failures,
            prev_url=page_url(page - 1) if page > 1 else None,
            next_url=page_url(page + 1) if page < pages else None,
            plan=plan,
            unfinished=UNFINISHED_STATUSES,
            clients=client_rows,
            client_id=client_id,
            vocabulary_default=vocabulary_default,
            client_names=client_names,
            moments={k: v[:MOMENTS_PER_SESSION] for k, v in moments.items()},
            more_moments={
                k: len(v) - MOMENTS_PER_SESSION
                for k, v in moments.items()
                if len(v) > MOMENTS_PER_SESSION
            },
            moment_url=moment_url,
            search_error=search_error,
            upload_config=json.dumps(
                {
                    "maxFileBytes": plan["max_file_bytes"],
                    "maxRecordingSeconds": plan["max_recording_seconds"],
                    "remainingSeconds": plan["remaining_seconds"],
                    "extensions": AUDIO_EXTENSIONS,
                }
            ),
            accept=ACCEPT_AUDIO,
            max_tracks=MAX_TRACKS,
        ),
        principal=principal,
    )


# --- session page ----------------------------------------------------------------------------
@router.get("/sessions/{session_id}", response_class=HTMLResponse)
def session_page(request: Request, session_id: str) -> Response:
    principal = require_user(request)
    rt = runtime_of(request)
    transcript: dict[str, Any] | None = None
    transcript_error: str | None = None
    with rt.database.transaction(write=False) as db, page_errors():
        s = sessions.get_session(db, principal.user_id, session_id)
        out = SessionOut.of(s, session_tracks.list_tracks(db, s.id) if s.track_count else None)
        add_track = len(out.tracks or ()) < MAX_TRACKS and session_tracks.accepts_tracks(db, s)
        plan = plan_summary(db, rt, principal)
        failure = plain_failure(s) if s.status in RETRYABLE_STATUSES else None
        client_rows, _ = clients.list_clients(db, principal.user_id, limit=1000)
        note_rows = [
            NoteOut.model_validate(n).model_dump(mode="json") for n in notes.notes_of(db, s.id)
        ]
        if s.transcript_version > 0:
            try:
                transcript = sessions.load_transcript(rt, s).model_dump(mode="json")
            except TapeworksError as exc:
                transcript_error = f"The transcript could not be loaded: {exc.message}"
        # the "this is me / this is <name>" controls: the owner's voices, and the speakers
        # whose voice was kept (only those can be enrolled)
        voice_config = {
            "voices": [
                {"id": v.id, "name": v.name, "is_me": v.is_me, "role": v.role}
                for v in voices.list_voices(db, principal.user_id)
            ],
            "enrollable": sorted(
                sid
                for sid, (_v, seconds) in sessions.speaker_embeddings(db, s.id).items()
                if seconds >= voices.MIN_MATCH_SECONDS
            ),
        }
    diarization = (transcript or {}).get("diarization") or {}
    return render(
        request,
        "session.html",
        ctx(
            request,
            s=out,
            plan=plan,
            failure=failure,
            roles=SPEAKER_ROLES,
            transcript_json=json.dumps(transcript).replace("<", "\\u003c")
            if transcript
            else "null",
            transcript_error=transcript_error,
            unfinished=UNFINISHED_STATUSES,
            export_formats=plan["export_formats"],
            export_labels=EXPORT_LABELS,
            other_formats=[f for f in EXPORT_FORMATS if f not in plan["export_formats"]],
            clients=client_rows,
            session_types=SESSION_TYPES,
            note_colours=NOTE_COLOURS,
            notes_json=json.dumps(note_rows).replace("<", "\\u003c"),
            voice_config=json.dumps(voice_config).replace("<", "\\u003c"),
            diarization_note=_diarization_note(diarization),
            add_track=add_track,
            accept=ACCEPT_AUDIO,
        ),
        principal=principal,
    )


def _diarization_note(d: dict[str, Any]) -> str | None:
    """What the speakers panel says when speakers were not told apart as asked."""
    status, reason = d.get("status"), d.get("reason")
    if status == "unavailable":
        return (
            "Speakers could not be told apart in this recording, so every word is "
            f"labelled as one speaker: {reason or 'the speaker model could not run'}."
        )
    if status == "ok" and reason:
        return f"{reason[0].upper()}{reason[1:]}."
    return None
