"""What every page shares: rendering, the signed-in user, CSRF, errors, formatting and the
plan summary. Page routes (entry points only: read the form or query, call a service,
render a template) live in one module per area: `auth`, `sessions`, `episodes`, `account`.
The page JavaScript talks to the JSON API (`/api/v1/...`) with the signed cookie and the
CSRF header. No page route is in the OpenAPI document (`include_in_schema=False`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session as DbSession

from tapeworks.errors import NotFound, TapeworksError, Unauthorized, ValidationFailed
from tapeworks.logging import get_logger
from tapeworks.plans import service as plans_service
from tapeworks.plans.catalogue import Plan
from tapeworks.sessions.models import RecordingSession
from tapeworks.transcripts.exporters import EXPORT_FORMATS
from tapeworks.users import service as users
from tapeworks.users.service import Principal
from tapeworks.web import security

if TYPE_CHECKING:
    from tapeworks.runtime import Runtime

log = get_logger("tapeworks.web")
HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))

PAGE_SIZE = 20
# What the upload picker accepts; the server probes the content whatever the name says.
AUDIO_EXTENSIONS = (
    "mp3", "wav", "flac", "ogg", "oga", "opus", "m4a", "mp4", "aac", "webm", "mka", "mkv",
    "wma", "aiff", "aif", "amr", "caf", "au", "ac3", "wv", "ape", "mpc", "mov", "3gp", "mp2",
    "mpeg", "mpg", "ts", "avi", "flv", "w64",
)
ACCEPT_AUDIO = ",".join("." + e for e in AUDIO_EXTENSIONS) + ",audio/*"
# The stages the jobs report, in words.
STAGE_WORDS = {
    "uploaded": "uploaded", "queued": "waiting for a worker", "starting": "starting",
    "downloading": "fetching the recording", "loading_model": "loading the speech model",
    "transcribing": "transcribing", "finding_speakers": "finding who speaks when",
    "uploading": "saving", "saving": "saving", "analysing": "finding fillers and pauses",
    "measuring": "measuring loudness", "rendering": "rendering", "encoding": "encoding",
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
    security.clear_flash_if_read(request, response)
    response.headers["Cache-Control"] = "no-store"
    return response


def ctx(request: Request, **values: Any) -> dict[str, Any]:
    return dict(values)


def pop_flash(request: Request) -> dict[str, Any]:
    return security.pop_flash(request)


def safe_next(value: str | None) -> str:
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


def runtime_of(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def current_user(request: Request) -> Principal | None:
    token = security.session_token(request)
    if not token:
        return None
    with runtime_of(request).database.transaction(write=False) as db:
        try:
            principal = users.resolve_token(db, token, via_cookie=True)
        except Unauthorized:
            return None
    if principal.touch_due and principal.token_id:
        with runtime_of(request).database.transaction() as db:
            users.touch_token(db, principal.token_id)
    return principal


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


def redirect(url: str, request: Request | None = None, **flash: Any) -> RedirectResponse:
    """303 to `url` (POST, then redirect, then GET): a reload never posts again. With
    `flash` values, the next page shows them once (`security.pop_flash`)."""
    response = RedirectResponse(url, status_code=303)
    if flash:
        assert request is not None, "a flash needs the request (for the key)"
        security.set_flash(request, response, **flash)
    return response


# --- formatting helpers (also used by templates) -----------------------------------------
def parse_date(value: str, what: str) -> date | None:
    """A form's or a query's date (YYYY-MM-DD, what a date input sends); blank is none."""
    value = value.strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationFailed(f"the {what} must be a date such as 2025-03-31",
                               details={"field": what}) from None


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


def fmt_eta(seconds: float | None) -> str:
    """Time left in round terms (the same words as app.js `etaText`)."""
    if seconds is None or seconds <= 0 or math.isnan(seconds):
        return ""
    if seconds < 15:
        return " · a few seconds left"
    if seconds < 90:
        return f" · about {round(seconds / 5) * 5} s left"
    return f" · about {fmt_duration(round(seconds / 30) * 30)} left"


templates.env.filters["duration"] = fmt_duration
templates.env.filters["eta_words"] = fmt_eta
templates.env.filters["bytes"] = fmt_bytes
templates.env.filters["date"] = fmt_date
templates.env.globals["stage_words"] = STAGE_WORDS


def plain_failure(s: RecordingSession) -> str:
    """A failure in plain words: what failed and what to do."""
    if s.status == "cancelled":
        return "You cancelled this transcription. Retry to start it again."
    stage = STAGE_WORDS.get(s.error_stage or "", (s.error_stage or "processing").replace("_", " "))
    detail = (s.error or "no reason was recorded").strip().rstrip(".")
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
