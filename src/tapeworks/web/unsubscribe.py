"""`/unsubscribe/{token}`: the link in each mail that stops that kind of mail (RFC 8058).

No login: the signed token is the proof and can do nothing else. A GET shows a button and
changes nothing (mail scanners open links); the POST, from that button or from a mail
client's one-click unsubscribe (`List-Unsubscribe=One-Click`), stops the mail. No CSRF
token is asked for: the unguessable token in the URL is what a forged request lacks.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from tapeworks.notifications import unsubscribe
from tapeworks.web.common import render, runtime_of

router = APIRouter(include_in_schema=False)

_HEADERS = {"Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"}


def _read(request: Request, token: str) -> unsubscribe.Unsubscribe | None:
    rt = runtime_of(request)
    return unsubscribe.read_token(rt.settings.resolved_secret_key(), token)


def _page(request: Request, state: str, token: str = "", label: str = "",
          status_code: int = 200) -> Response:
    response = render(request, "unsubscribe.html",
                      {"state": state, "token": token, "label": label}, status_code=status_code)
    response.headers.update(_HEADERS)
    return response


@router.get("/unsubscribe/{token}", response_class=HTMLResponse)
def unsubscribe_page(request: Request, token: str) -> Response:
    u = _read(request, token)
    if u is None:
        return _page(request, "invalid", status_code=404)
    return _page(request, "ask", token=token, label=u.label)


@router.post("/unsubscribe/{token}", response_class=HTMLResponse)
def unsubscribe_now(request: Request, token: str) -> Response:
    u = _read(request, token)
    if u is None:
        return _page(request, "invalid", status_code=404)
    rt = runtime_of(request)
    with rt.database.transaction() as db:
        found = unsubscribe.apply(db, u)
    if not found:
        return _page(request, "invalid", status_code=404)
    return _page(request, "done", label=u.label)
