"""Shows pages: the list with a form to make one, and a show's page (artwork, feed URL
with a copy button, its episodes with their publish state and schedule)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from tapeworks.db.base import utcnow
from tapeworks.episodes.models import Episode
from tapeworks.errors import ValidationFailed
from tapeworks.http.ranges import stream_object
from tapeworks.shows import service as shows
from tapeworks.shows.categories import APPLE_CATEGORIES
from tapeworks.shows.models import Publication
from tapeworks.users.service import Principal
from tapeworks.web.common import (
    ctx,
    fmt_date,
    page_errors,
    redirect,
    render,
    require_csrf,
    require_user,
    runtime_of,
)

router = APIRouter(include_in_schema=False)


def _base(request: Request) -> str:
    rt = runtime_of(request)
    return rt.settings.public_url.rstrip("/") if rt.settings.public_url else \
        str(request.base_url).rstrip("/")


def _list(request: Request, principal: Principal, *, error: str | None = None,
          form: dict[str, Any] | None = None, status_code: int = 200) -> Response:
    with runtime_of(request).database.transaction(write=False) as db:
        items = shows.list_shows(db, principal.user_id)
    return render(request, "shows.html", ctx(
        request, shows=items, categories=APPLE_CATEGORIES, error=error, form=form or {}),
        status_code=status_code, principal=principal)


@router.get("/shows", response_class=HTMLResponse)
def shows_page(request: Request) -> Response:
    return _list(request, require_user(request))


@router.post("/shows", response_class=HTMLResponse)
def create_show(
    request: Request,
    title: Annotated[str, Form(max_length=2000)] = "",
    language: Annotated[str, Form(max_length=100)] = "en",
    category: Annotated[str, Form(max_length=200)] = "",
    author: Annotated[str, Form(max_length=2000)] = "",
    owner_email: Annotated[str, Form(max_length=2000)] = "",
    description: Annotated[str, Form(max_length=100_000)] = "",
    private: Annotated[str, Form(max_length=10)] = "",
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    principal = require_user(request)
    require_csrf(request, csrf_token)
    main, _, sub = category.partition(" › ")
    data = {"title": title, "language": language, "category": main, "subcategory": sub or None,
            "author": author, "owner_email": owner_email, "description": description,
            "private": private == "on"}
    try:
        with runtime_of(request).database.transaction() as db:
            made = shows.create_show(db, principal.user_id, data, base_url=_base(request),
                                     now=utcnow())
    except ValidationFailed as exc:
        return _list(request, principal, error=exc.message, form=data, status_code=422)
    if made.feed_token:  # shown once, on the page this answer renders
        return _show(request, principal, made.show.id, feed_token=made.feed_token)
    return redirect(f"/shows/{made.show.id}")


def _show(request: Request, principal: Principal, show_id: str, *,
          feed_token: str | None = None) -> Response:
    base = _base(request)
    with runtime_of(request).database.transaction(write=False) as db, page_errors():
        show = shows.get_show(db, principal.user_id, show_id)
        rows = db.execute(select(Publication, Episode.title)
                          .join(Episode, Episode.id == Publication.episode_id)
                          .where(Publication.show_id == show.id)
                          .order_by(Publication.published_at.desc())).all()
        now = utcnow()
        episodes = [{
            "id": p.episode_id, "title": p.title, "episode_title": title,
            "state": ("scheduled" if p.state == "published" and p.publish_at and p.publish_at > now
                      else p.state),
            "when": fmt_date(p.publish_at or p.published_at),
        } for p, title in rows]
        return render(request, "show.html", ctx(
            request, show=show, feed_url=shows.feed_url(show, base, feed_token),
            feed_token=feed_token, has_artwork=show.artwork_key is not None,
            episodes=episodes),
            principal=principal)


@router.get("/shows/{show_id}", response_class=HTMLResponse)
def show_page(request: Request, show_id: str) -> Response:
    return _show(request, require_user(request), show_id)


@router.get("/shows/{show_id}/artwork")
def show_artwork(request: Request, show_id: str) -> Response:
    """The show's artwork for its signed-in owner (a private show's public artwork URL
    needs the feed token, which the page does not have)."""
    principal = require_user(request)
    rt = runtime_of(request)
    with rt.database.transaction(write=False) as db, page_errors():
        show = shows.get_show(db, principal.user_id, show_id)
        key, fmt = show.artwork_key, show.artwork_format
    if not key:
        return Response(status_code=404)
    head = rt.store.head(key)
    if head is None:
        return Response(status_code=404)
    resp = stream_object(rt.store, key, head.size, None)
    resp.headers["Content-Type"] = "image/png" if fmt == "png" else "image/jpeg"
    resp.headers["Cache-Control"] = "private, no-cache"
    return resp
