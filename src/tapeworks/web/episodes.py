"""The episode page (what was cut, before/after playback, downloads), assets and templates."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from tapeworks.episodes import service as episodes
from tapeworks.sessions import service as sessions
from tapeworks.shows import service as shows
from tapeworks.web.common import (
    ACCEPT_AUDIO,
    ctx,
    page_errors,
    plan_summary,
    render,
    require_user,
    runtime_of,
)

router = APIRouter(include_in_schema=False)


@router.get("/episodes/{episode_id}", response_class=HTMLResponse)
def episode_page(request: Request, episode_id: str) -> Response:
    principal = require_user(request)
    rt = runtime_of(request)
    with rt.database.transaction(write=False) as db, page_errors():
        ep = episodes.get_episode(db, principal.user_id, episode_id)  # another user's: 404
        session = sessions.get_session(db, principal.user_id, ep.session_id)
        plan = plan_summary(db, rt, principal)
        title, session_id, session_title = ep.title, ep.session_id, session.title
        user_shows = [{"id": s.id, "title": s.title}
                      for s in shows.list_shows(db, principal.user_id)]
    return render(request, "episode.html", ctx(
        request, episode_id=episode_id, export_formats=plan["export_formats"], title=title,
        session_id=session_id, session_title=session_title, shows=user_shows),
        principal=principal)


@router.get("/assets", response_class=HTMLResponse)
def assets_page(request: Request) -> Response:
    principal = require_user(request)
    return render(request, "assets.html", ctx(request, accept=ACCEPT_AUDIO), principal=principal)


@router.get("/templates", response_class=HTMLResponse)
def templates_page(request: Request) -> Response:
    principal = require_user(request)
    return render(request, "templates.html", ctx(request), principal=principal)
