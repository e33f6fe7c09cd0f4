"""A share link's page (`/s/{token}`): one session's live transcript beside its player,
for one listener without an account (rule 14).

The token is looked up by its hash; unknown, revoked and expired are the same 404. The page
shows what the link names and nothing else: the session's title, its current transcript
with the speakers' names, and its audio (never the owner's notes, other sessions, or any
link into the owner's pages). `allow_download: false` still plays the audio but offers no
download. After retention purged the audio the page shows the transcript alone.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, Response

from tapeworks.errors import Conflict, NotFound
from tapeworks.http.ranges import stream_object
from tapeworks.sessions import service as sessions
from tapeworks.sessions.models import RecordingSession
from tapeworks.shows import service as shows
from tapeworks.transcripts.labels import format_clock, speaker_label
from tapeworks.transcripts.model import Transcript
from tapeworks.web.common import render, runtime_of

router = APIRouter(include_in_schema=False)
Token = Annotated[str, Path(min_length=20, max_length=200)]
PRIVATE_HEADERS = {"X-Robots-Tag": "noindex, nofollow", "Referrer-Policy": "no-referrer"}


def _link_and_session(request: Request, token: str) -> tuple[Any, RecordingSession]:
    rt = runtime_of(request)
    now = rt.clock()
    with rt.database.transaction() as db:
        link = shows.share_by_token(db, token, now=now)
        session = db.get(RecordingSession, link.session_id)
        if session is None:
            raise NotFound("this link does not exist or is no longer shared")
        shows.touch_share(db, link, now=now)
        db.expunge(session)
        db.expunge(link)
        return link, session


def _segments(t: Transcript) -> list[dict[str, Any]]:
    out = []
    previous = None
    for seg in t.segments:
        name = speaker_label(t, seg.speaker) or ""
        out.append({"start": seg.start, "clock": format_clock(seg.start), "speaker": name,
                    "new_turn": name != previous, "text": " ".join(seg.text.split())})
        previous = name
    return out


@router.get("/s/{token}", response_class=HTMLResponse)
def share_page(request: Request, token: Token) -> Response:
    link, session = _link_and_session(request, token)
    rt = runtime_of(request)
    try:
        t: Transcript | None = sessions.load_transcript(rt, session)
    except Conflict:
        t = None  # not transcribed yet
    speakers = []
    if t is not None:
        used = {seg.speaker for seg in t.segments}
        speakers = [{"name": speaker_label(t, sp.id), "role": sp.role or ""}
                    for sp in t.speakers if sp.id in used]
    response = render(request, "share.html", {
        "title": session.title, "token": token, "has_audio": sessions.has_source(session)
        and bool(session.source_key), "allow_download": link.allow_download,
        "segments": _segments(t) if t else None, "speakers": speakers,
        "duration": format_clock(session.duration_seconds or 0),
        "expires_at": link.expires_at,
    })
    response.headers.update(PRIVATE_HEADERS)
    return response


@router.get("/s/{token}/audio")
def share_audio(request: Request, token: Token, download: bool = False) -> Response:
    """The session's audio for the share page's player (byte ranges); a download only when
    the link allows it."""
    link, session = _link_and_session(request, token)
    rt = runtime_of(request)
    if not sessions.has_source(session) or not session.source_key:
        raise NotFound("the audio of this recording is no longer kept")
    key, size = sessions.source_info(rt, session)
    wants_file = download and link.allow_download
    ext = key.rsplit(".", 1)[-1]
    response = stream_object(rt.store, key, size, request.headers.get("range"),
                             filename=f"{session.title}.{ext}" if wants_file else None,
                             inline=not wants_file)
    response.headers.update(PRIVATE_HEADERS)
    return response
