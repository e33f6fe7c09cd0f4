"""Page routes: server-rendered HTML calling the same services as the API.

Entry points only: they read the form or query, call a service, render a template.
The page JavaScript talks to the JSON API (`/api/v1/...`) with the signed cookie and
the CSRF header. None of these routes is in the OpenAPI document (`include_in_schema=False`).
"""

from __future__ import annotations

import importlib
import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session as DbSession

from tapeworks.errors import (
    Conflict,
    NotFound,
    TapeworksError,
    Unauthorized,
    ValidationFailed,
)
from tapeworks.logging import get_logger
from tapeworks.plans import service as plans_service
from tapeworks.plans.catalogue import Plan
from tapeworks.runtime import Runtime
from tapeworks.sessions import service as sessions
from tapeworks.sessions.models import SESSION_STATUSES, RecordingSession
from tapeworks.sessions.schemas import SessionOut
from tapeworks.transcripts.exporters import EXPORT_FORMATS
from tapeworks.transcripts.model import SPEAKER_ROLES
from tapeworks.users import service as users
from tapeworks.users.service import Principal
from tapeworks.web import security

log = get_logger("tapeworks.web")
HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 20
UNFINISHED = ("uploaded", "queued", "processing")
# What the upload picker accepts; the server probes the content whatever the name says.
AUDIO_EXTENSIONS = (
    "mp3", "wav", "flac", "ogg", "oga", "opus", "m4a", "mp4", "aac", "webm", "mka", "mkv",
    "wma", "aiff", "aif", "amr", "caf", "au", "ac3", "wv", "ape", "mpc", "mov", "3gp", "mp2",
    "mpeg", "mpg", "ts", "avi", "flv", "w64",
)
STAGE_WORDS = {
    "uploaded": "uploaded", "queued": "waiting for a worker", "claim": "starting",
    "download": "fetching the recording", "decode": "reading the audio",
    "vad": "finding speech", "transcribe": "transcribing", "align": "aligning words",
    "diarize": "telling speakers apart", "save": "saving the transcript",
    "completed": "done", "failed": "failed", "cancelled": "cancelled",
}
EXPORT_LABELS = {"json": "JSON", "txt": "Text", "srt": "SRT subtitles", "vtt": "WebVTT",
                 "docx": "Word (.docx)", "pdf": "PDF", "xlsx": "Excel (.xlsx)"}


# --- errors and redirects ------------------------------------------------------------------
class PageError(Exception):
    """Rendered as an HTML error page (never the API's JSON)."""

    def __init__(self, status_code: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.title = title
        self.message = message


class LoginRequired(Exception):
    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


@contextmanager
def page_errors() -> Iterator[None]:
    """Service errors become HTML pages with the same status and a plain message."""
    try:
        yield
    except NotFound as exc:
        raise PageError(404, "Not found", "There is nothing here, or it belongs to another "
                        "account. Check the address, or go back to your library.") from exc
    except TapeworksError as exc:
        raise PageError(exc.status_code, "Something went wrong", exc.message) from exc


def render(request: Request, name: str, context: dict[str, Any], status_code: int = 200,
           principal: Principal | None = None) -> HTMLResponse:
    csrf = security.csrf_token(request)
    response = templates.TemplateResponse(request, name, {
        "user": principal, "nav": name.split(".")[0], "csrf": csrf, **context},
        status_code=status_code)
    security.persist_pre_nonce(request, response)
    response.headers["Cache-Control"] = "no-store"
    return response


def _ctx(request: Request, **values: Any) -> dict[str, Any]:
    return dict(values)


def _safe_next(value: str | None) -> str:
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


def _runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def current_user(request: Request) -> Principal | None:
    token = security.session_token(request)
    if not token:
        return None
    with _runtime(request).database.transaction(write=False) as db:
        try:
            return users.resolve_token(db, token)
        except Unauthorized:
            return None


def require_user(request: Request) -> Principal:
    principal = current_user(request)
    if principal is None:
        nxt = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(nxt)
    return principal


def require_csrf(request: Request, presented: str | None) -> None:
    if not security.csrf_valid(request, presented):
        raise PageError(403, "Form expired", "This form was out of date or did not come from "
                        "this site, so nothing was changed. Reload the page and try again.")


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


# --- formatting helpers (also used by templates) -----------------------------------------
def fmt_duration(seconds: float | None) -> str:
    if seconds is None or seconds < 0 or math.isnan(seconds):
        return "–"
    s = round(seconds)
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


def fmt_bytes(n: float | None) -> str:
    if n is None:
        return "unlimited"
    value = float(n)
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"


def fmt_date(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "–"


templates.env.filters["duration"] = fmt_duration
templates.env.filters["bytes"] = fmt_bytes
templates.env.filters["date"] = fmt_date
templates.env.globals["stage_words"] = STAGE_WORDS


def plain_failure(s: RecordingSession) -> str:
    """A failure in plain words: what failed and what to do."""
    if s.status == "cancelled":
        return "You cancelled this transcription. Retry to start it again."
    stage = STAGE_WORDS.get(s.error_stage or "", s.error_stage or "processing")
    detail = (s.error or "no reason was recorded").strip()
    return f"The transcription stopped while {stage}: {detail}. You can retry it."


# --- plan and usage ---------------------------------------------------------------------------
def plan_summary(db: DbSession, rt: Runtime, principal: Principal) -> dict[str, Any]:
    """Limits and usage for the account page and the upload checks: the same overview as
    `GET /api/v1/plan` (plans service), shaped for the templates."""
    ov = plans_service.overview(db, rt, principal.user_id)
    plan: Plan = ov.plan
    snap = ov.usage
    monthly = plan.monthly_audio_seconds
    committed = snap.committed_seconds
    return {
        "name": plan.name,
        "monthly_limit_seconds": monthly,
        "used_seconds": snap.used_seconds,
        "pending_seconds": snap.pending_seconds,
        "remaining_seconds": None if monthly is None else max(0.0, monthly - committed),
        "monthly_percent": 0 if not monthly else min(100, round(100 * committed / monthly, 1)),
        "reset_at": snap.reset_at,
        "storage_used_bytes": snap.storage_bytes,
        "storage_limit_bytes": plan.max_storage_bytes,
        "storage_percent": 0 if not plan.max_storage_bytes
        else min(100, round(100 * snap.storage_bytes / plan.max_storage_bytes, 1)),
        "max_file_bytes": min(rt.settings.max_upload_bytes, plan.max_file_bytes),
        "max_recording_seconds": plan.max_recording_seconds,
        "export_formats": [f for f in EXPORT_FORMATS if f in plan.export_formats],
        "episodes_enabled": plan.episodes_enabled,
    }


def has_api(request: Request, prefix: str) -> bool:
    """Whether the JSON API offers routes under `prefix` (parts built by others may be
    absent). Read from the OpenAPI document: the API's contract, built once and cached."""
    paths = request.app.openapi().get("paths", {})
    return any(str(path).startswith(prefix) for path in paths)


# --- sign in, setup, sign out -------------------------------------------------------------
def _user_count(request: Request) -> int:
    with _runtime(request).database.transaction(write=False) as db:
        return users.count_users(db)


def _sign_in(request: Request, db: DbSession, user: Any, next_path: str) -> Response:
    _token, plain = users.issue_token(db, user, kind="access", name="web sign-in",
                                      ttl_seconds=_runtime(request).settings.access_token_ttl_seconds)
    response = redirect(_safe_next(next_path))
    security.set_session_cookie(request, response, plain)
    return response


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/") -> Response:
    if _user_count(request) == 0:
        return redirect("/setup")
    if current_user(request) is not None:
        return redirect(_safe_next(next))
    return render(request, "login.html", _ctx(request, next=_safe_next(next), email="", error=None))


@router.post("/login", response_class=HTMLResponse)
def login_submit(
    request: Request,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    require_csrf(request, csrf_token)
    rt = _runtime(request)
    try:
        with rt.database.transaction() as db:
            user = users.authenticate(db, email, password)
            return _sign_in(request, db, user, next)
    except Unauthorized as exc:
        return render(request, "login.html", _ctx(request, next=_safe_next(next), email=email,
                                                 error=exc.message), status_code=401)


@router.get("/setup", response_class=HTMLResponse)
def setup_page(request: Request) -> Response:
    if _user_count(request) > 0:
        return redirect("/login")
    return render(request, "setup.html", _ctx(request, email="", name="", error=None))


@router.post("/setup", response_class=HTMLResponse)
def setup_submit(
    request: Request,
    email: Annotated[str, Form(max_length=320)] = "",
    name: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    password_again: Annotated[str, Form(max_length=1000)] = "",
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    require_csrf(request, csrf_token)
    rt = _runtime(request)
    error: str | None = None
    if password != password_again:
        error = "The two passwords are not the same."
    else:
        try:
            with rt.database.transaction() as db:
                if users.count_users(db) > 0:
                    return redirect("/login")
                user = users.create_user(db, email=email, password=password, name=name,
                                         role="admin", plan="unlimited")
                log.info("web.first_admin_created", user_id=user.id)
                return _sign_in(request, db, user, "/")
        except (ValidationFailed, Conflict) as exc:
            error = exc.message
    return render(request, "setup.html", _ctx(request, email=email, name=name, error=error),
                  status_code=422)


@router.post("/logout")
def logout(request: Request, csrf_token: Annotated[str | None, Form()] = None) -> Response:
    require_csrf(request, csrf_token)
    principal = current_user(request)
    if principal is not None and principal.token_id:
        with _runtime(request).database.transaction() as db:
            users.revoke_token(db, principal.user_id, principal.token_id)
    response = redirect("/login")
    security.clear_session_cookie(request, response)
    return response


# --- library ---------------------------------------------------------------------------------
@router.get("/", response_class=HTMLResponse)
def library(
    request: Request,
    q: Annotated[str, Query(max_length=200)] = "",
    status: Annotated[str, Query(max_length=100)] = "",
    page: Annotated[int, Query(ge=1, le=100000)] = 1,
) -> Response:
    principal = require_user(request)
    rt = _runtime(request)
    status = status if status in SESSION_STATUSES else ""
    with rt.database.transaction(write=False) as db, page_errors():
        rows, total = sessions.list_sessions(db, principal.user_id, status=status or None,
                                             q=q.strip() or None, limit=PAGE_SIZE,
                                             offset=(page - 1) * PAGE_SIZE)
        items = [SessionOut.of(s) for s in rows]
        plan = plan_summary(db, rt, principal)
    pages = max(1, math.ceil(total / PAGE_SIZE))

    def page_url(n: int) -> str:
        params = {k: v for k, v in (("q", q), ("status", status), ("page", str(n))) if v}
        return "/?" + urlencode(params)

    return render(request, "library.html", _ctx(
        request, items=items, total=total, q=q, status=status, statuses=SESSION_STATUSES,
        page=page, pages=pages, prev_url=page_url(page - 1) if page > 1 else None,
        next_url=page_url(page + 1) if page < pages else None, plan=plan,
        unfinished=UNFINISHED,
        upload_config=json.dumps({
            "maxFileBytes": plan["max_file_bytes"],
            "maxRecordingSeconds": plan["max_recording_seconds"],
            "remainingSeconds": plan["remaining_seconds"],
            "extensions": AUDIO_EXTENSIONS,
        }),
        accept=",".join("." + e for e in AUDIO_EXTENSIONS) + ",audio/*",
    ), principal=principal)


# --- session page ----------------------------------------------------------------------------
@router.get("/sessions/{session_id}", response_class=HTMLResponse)
def session_page(request: Request, session_id: str) -> Response:
    principal = require_user(request)
    rt = _runtime(request)
    transcript: dict[str, Any] | None = None
    transcript_error: str | None = None
    with rt.database.transaction(write=False) as db, page_errors():
        s = sessions.get_session(db, principal.user_id, session_id)
        out = SessionOut.of(s)
        plan = plan_summary(db, rt, principal)
        failure = plain_failure(s) if s.status in ("failed", "cancelled") else None
        if s.transcript_version > 0:
            try:
                transcript = sessions.load_transcript(rt, s).model_dump(mode="json")
            except TapeworksError as exc:
                transcript_error = f"The transcript could not be loaded: {exc.message}"
    episodes_api = has_api(request, "/api/v1/episodes")
    templates_api = has_api(request, "/api/v1/templates")
    return render(request, "session.html", _ctx(
        request, s=out, plan=plan, failure=failure, roles=SPEAKER_ROLES,
        transcript_json=json.dumps(transcript).replace("<", "\\u003c") if transcript else "null",
        transcript_error=transcript_error, unfinished=UNFINISHED,
        export_formats=plan["export_formats"], export_labels=EXPORT_LABELS,
        other_formats=[f for f in EXPORT_FORMATS if f not in plan["export_formats"]],
        episodes_api=episodes_api, templates_api=templates_api,
    ), principal=principal)


# --- episodes, assets, templates (APIs built elsewhere; pages degrade when absent) ----------
def _episode_owned(request: Request, principal: Principal, episode_id: str) -> None:
    """404 for another user's episode, using the episodes service when it exists."""
    try:
        episodes_service = importlib.import_module("tapeworks.episodes.service")
    except ImportError:
        return
    getter = getattr(episodes_service, "get_episode", None)
    if getter is None:
        return
    with _runtime(request).database.transaction(write=False) as db, page_errors():
        getter(db, principal.user_id, episode_id)


@router.get("/episodes/{episode_id}", response_class=HTMLResponse)
def episode_page(request: Request, episode_id: str) -> Response:
    principal = require_user(request)
    rt = _runtime(request)
    available = has_api(request, "/api/v1/episodes")
    if available:
        _episode_owned(request, principal, episode_id)
    with rt.database.transaction(write=False) as db, page_errors():
        plan = plan_summary(db, rt, principal)
    return render(request, "episode.html", _ctx(
        request, episode_id=episode_id, available=available,
        export_formats=plan["export_formats"]), principal=principal)


@router.get("/assets", response_class=HTMLResponse)
def assets_page(request: Request) -> Response:
    principal = require_user(request)
    return render(request, "assets.html", _ctx(
        request, available=has_api(request, "/api/v1/assets"),
        accept=",".join("." + e for e in AUDIO_EXTENSIONS) + ",audio/*"), principal=principal)


@router.get("/templates", response_class=HTMLResponse)
def templates_page(request: Request) -> Response:
    principal = require_user(request)
    return render(request, "templates.html", _ctx(
        request, available=has_api(request, "/api/v1/templates"),
        assets_available=has_api(request, "/api/v1/assets")), principal=principal)


# --- account ---------------------------------------------------------------------------------
def _account(request: Request, principal: Principal, *, new_token: str | None = None,
             new_token_name: str = "", error: str | None = None,
             status_code: int = 200) -> Response:
    rt = _runtime(request)
    with rt.database.transaction(write=False) as db, page_errors():
        user = users.get_user(db, principal.user_id)
        tokens = [{"id": t.id, "name": t.name or "(unnamed)", "prefix": t.prefix,
                   "created_at": t.created_at, "expires_at": t.expires_at,
                   "last_used_at": t.last_used_at}
                  for t in users.list_tokens(db, principal.user_id)]
        plan = plan_summary(db, rt, principal)
        account = {"email": user.email, "name": user.name, "role": user.role}
    return render(request, "account.html", _ctx(
        request, account=account, tokens=tokens, plan=plan, new_token=new_token,
        new_token_name=new_token_name, error=error), status_code=status_code,
        principal=principal)


@router.get("/account", response_class=HTMLResponse)
def account_page(request: Request) -> Response:
    return _account(request, require_user(request))


@router.post("/account/tokens", response_class=HTMLResponse)
def create_token(
    request: Request,
    name: Annotated[str, Form(max_length=200)] = "",
    expires_in_days: Annotated[str, Form(max_length=6)] = "",
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    principal = require_user(request)
    require_csrf(request, csrf_token)
    days: int | None = None
    if expires_in_days.strip():
        if not expires_in_days.strip().isdigit() or not 1 <= int(expires_in_days) <= 3650:
            return _account(request, principal, error="Expiry must be a number of days from "
                            "1 to 3650, or empty for no expiry.", status_code=422)
        days = int(expires_in_days)
    with _runtime(request).database.transaction() as db, page_errors():
        user = users.get_user(db, principal.user_id)
        _tok, plain = users.issue_token(db, user, kind="personal", name=name.strip()[:200],
                                        ttl_seconds=days * 86400 if days else None)
    # Rendered in this response only: the plain token is never stored or shown again.
    return _account(request, principal, new_token=plain, new_token_name=name.strip())


@router.post("/account/tokens/{token_id}/revoke")
def revoke_token(request: Request, token_id: str,
                 csrf_token: Annotated[str | None, Form()] = None) -> Response:
    principal = require_user(request)
    require_csrf(request, csrf_token)
    with _runtime(request).database.transaction() as db, page_errors():
        users.revoke_token(db, principal.user_id, token_id)
    return redirect("/account?revoked=1")


__all__ = ["LoginRequired", "PageError", "router"]
