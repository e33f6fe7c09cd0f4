"""The web app: server-rendered pages and their static files, on the same FastAPI app.

`install_web(app)` mounts the pages (outside the OpenAPI contract), `/static`, the HTML
error pages, and `app.state.cookie_reader` so the pages' JavaScript can call the JSON
API with the signed session cookie (plus the CSRF header on unsafe methods).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from tapeworks.web import (
    account,
    auth,
    common,
    episodes,
    integrations,
    practice,
    security,
    sessions,
    shares,
    shows,
    unsubscribe,
)

STATIC_DIR = Path(__file__).parent / "static"


def install_web(app: FastAPI) -> None:
    app.state.cookie_reader = security.cookie_reader
    for module in (auth, sessions, episodes, shows, shares, practice, integrations, account,
                   unsubscribe):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.exception_handler(common.PageError)
    async def _page_error(request: Request, exc: common.PageError) -> HTMLResponse:
        principal = common.current_user(request)
        return common.render(request, "error.html", {"title": exc.title, "message": exc.message,
                                                     "code": exc.status_code},
                             status_code=exc.status_code, principal=principal)

    api_http_error = app.exception_handlers.get(StarletteHTTPException)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        """A browser asking for a page that does not exist gets the HTML error page; API
        clients (and everything under /api) keep the JSON error body."""
        path = request.url.path
        wants_page = "text/html" in request.headers.get("accept", "")
        if exc.status_code == 404 and wants_page and not path.startswith(("/api/", "/static/")):
            principal = common.current_user(request)
            return common.render(request, "error.html", {
                "title": "Page not found", "code": 404,
                "message": "There is no page at this address. Check it, or go back to your library."},
                status_code=404, principal=principal)
        assert api_http_error is not None
        return await api_http_error(request, exc)  # type: ignore[misc]

    @app.exception_handler(common.LoginRequired)
    async def _login_required(request: Request, exc: common.LoginRequired) -> Response:
        return RedirectResponse(f"/login?next={quote(exc.next_path, safe='/')}", status_code=303)
