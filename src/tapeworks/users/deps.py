"""Who is calling: the principal of a request, from a Bearer token or the page cookie."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.exc import SQLAlchemyError

from tapeworks.errors import Forbidden, Unauthorized
from tapeworks.http.deps import READ_METHODS, get_runtime, request_db
from tapeworks.logging import get_logger
from tapeworks.users.service import WEB_PREFIX, Principal, resolve_token, touch_token

log = get_logger("tapeworks.users")

SESSION_COOKIE = "tw_session"


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise Unauthorized("the Authorization header must be 'Bearer <token>'")
        return value.strip()
    return None


def request_token_and_source(request: Request) -> tuple[str | None, bool]:
    """The token the caller sent (a Bearer token, or the one in the signed page cookie),
    and whether it came from the cookie."""
    token = _bearer(request)
    if token is not None:
        return token, False
    cookie_reader = getattr(request.app.state, "cookie_reader", None)
    token = cookie_reader(request) if cookie_reader else None
    return token, token is not None


def request_token(request: Request) -> str | None:
    """The token the caller sent, for fast paths that look it up by its hash alone: only
    one used the way its kind allows (a page sign-in only from the cookie, nothing else
    from it); otherwise None, and the ordinary path says why."""
    token, via_cookie = request_token_and_source(request)
    if token is not None and via_cookie != token.startswith(WEB_PREFIX):
        return None
    return token


def resolve_principal(request: Request) -> Principal | None:
    """The caller from a Bearer token, or from the signed page cookie (its opaque session id
    is accepted only there).

    Reads use the request's own transaction (one transaction per poll); writes look the
    token up in a short read of their own, so an upload streaming in holds no lock. The
    token's last use is written in a short transaction of its own, at most once a minute.
    """
    token, via_cookie = request_token_and_source(request)
    if token is None:
        return None
    if request.method in READ_METHODS:
        principal = resolve_token(request_db(request), token, via_cookie=via_cookie)
    else:
        with get_runtime(request).database.transaction(write=False) as db:
            principal = resolve_token(db, token, via_cookie=via_cookie)
    if principal.touch_due and principal.token_id:
        touch(request, principal.token_id)
    return principal


def touch(request: Request, token_id: str) -> None:
    """Write a token's last use; a failure to do so never fails the request."""
    try:
        with get_runtime(request).database.transaction() as db:
            touch_token(db, token_id)
    except SQLAlchemyError as exc:
        log.warning("auth.touch_failed", token_id=token_id, error=type(exc).__name__)


def current_principal(request: Request) -> Principal:
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        p: Principal = cached
        return p
    principal = resolve_principal(request)
    if principal is None:
        raise Unauthorized("authentication required: send 'Authorization: Bearer <token>'")
    request.state.principal = principal
    return principal


def current_admin(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
    if not principal.is_admin:
        raise Forbidden("this action needs an administrator")
    return principal


CurrentUser = Annotated[Principal, Depends(current_principal)]
CurrentAdmin = Annotated[Principal, Depends(current_admin)]
