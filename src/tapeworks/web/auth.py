"""Sign in, first-run setup, sign out."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session as DbSession

from tapeworks.errors import Conflict, TooManyAttempts, ValidationFailed
from tapeworks.users import service as users
from tapeworks.web import security
from tapeworks.web.common import (
    ctx,
    current_user,
    log,
    pop_flash,
    redirect,
    render,
    require_csrf,
    runtime_of,
    safe_next,
)

router = APIRouter(include_in_schema=False)


# --- sign in, setup, sign out -------------------------------------------------------------
def _user_count(request: Request) -> int:
    with runtime_of(request).database.transaction(write=False) as db:
        return users.count_users(db)


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


def _sign_in(request: Request, db: DbSession, user: Any, next_path: str) -> Response:
    """A page sign-in: a new opaque session id in the cookie; the sign-in this browser had
    before (the same account or another) ends."""
    previous = security.session_token(request)
    if previous:
        users.revoke_token_value(db, previous)
    _token, plain = users.issue_token(db, user, kind="web", name="web sign-in",
                                      ttl_seconds=runtime_of(request).settings.access_token_ttl_seconds,
                                      address=client_address(request),
                                      user_agent=request.headers.get("user-agent"))
    response = redirect(safe_next(next_path))
    security.set_session_cookie(request, response, plain)
    return response


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/") -> Response:
    if _user_count(request) == 0:
        return redirect("/setup")
    if current_user(request) is not None:
        return redirect(safe_next(next))
    flash = pop_flash(request)
    return render(request, "login.html", ctx(request, next=safe_next(next),
                                             email=flash.get("email", ""), error=flash.get("error")),
                  status_code=401 if flash.get("error") else 200)


@router.post("/login")
def login_submit(
    request: Request,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    require_csrf(request, csrf_token)
    rt = runtime_of(request)
    address = client_address(request)
    try:
        with rt.database.transaction() as db:
            user = users.authenticate_throttled(db, rt.settings, email=email, password=password,
                                                address=address, now=rt.clock())
            if user is not None:
                return _sign_in(request, db, user, next)
    except TooManyAttempts as exc:
        # the same rule as the API: 429 with Retry-After, the form shown again
        response = render(request, "login.html", ctx(request, next=safe_next(next), email=email,
                                                     error=exc.message[:1].upper() + exc.message[1:] + "."),
                          status_code=429)
        response.headers["Retry-After"] = str(exc.details["retry_after_seconds"])
        return response
    # POST, then redirect: a reload shows the form again instead of re-sending the password
    return redirect(f"/login?next={quote(safe_next(next), safe='/')}", request,
                    error=users.WRONG_LOGIN, email=email)


def _setup_token_ok(request: Request, token: str | None) -> bool:
    with runtime_of(request).database.transaction(write=False) as db:
        return users.setup_token_valid(db, token)


def _setup_closed(request: Request) -> Response:
    return render(request, "setup_closed.html", ctx(request), status_code=403)


@router.get("/setup", response_class=HTMLResponse)
def setup_page(request: Request, token: str = "") -> Response:
    """First run: only with the setup link `tapeworks serve` printed (its token), so the
    first visitor is not the administrator by being first."""
    if _user_count(request) > 0:
        return redirect("/login")
    if not _setup_token_ok(request, token[:200]):
        return _setup_closed(request)
    flash = pop_flash(request)
    return render(request, "setup.html", ctx(request, email=flash.get("email", ""),
                                             name=flash.get("name", ""), error=flash.get("error"),
                                             token=token),
                  status_code=422 if flash.get("error") else 200)


@router.post("/setup")
def setup_submit(
    request: Request,
    email: Annotated[str, Form(max_length=320)] = "",
    name: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    password_again: Annotated[str, Form(max_length=1000)] = "",
    token: Annotated[str, Form(max_length=200)] = "",
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    require_csrf(request, csrf_token)
    rt = runtime_of(request)
    error: str | None = None
    if password != password_again:
        error = "The two passwords are not the same."
    else:
        try:
            with rt.database.transaction() as db:
                if users.count_users(db) > 0:
                    return redirect("/login")
                if not users.setup_token_valid(db, token):
                    return _setup_closed(request)
                user = users.create_user(db, email=email, password=password, name=name,
                                         role="admin", plan="unlimited")
                log.info("web.first_admin_created", user_id=user.id)
                return _sign_in(request, db, user, "/")
        except (ValidationFailed, Conflict) as exc:
            error = exc.message
    return redirect(f"/setup?token={quote(token, safe='')}", request, error=error, email=email,
                    name=name)


@router.post("/logout")
def logout(request: Request, csrf_token: Annotated[str | None, Form()] = None) -> Response:
    require_csrf(request, csrf_token)
    principal = current_user(request)
    if principal is not None and principal.token_id:
        with runtime_of(request).database.transaction() as db:
            users.revoke_token(db, principal.user_id, principal.token_id)
    response = redirect("/login")
    security.clear_session_cookie(request, response)
    return response
