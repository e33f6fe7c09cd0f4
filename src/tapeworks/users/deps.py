"""Who is calling: the principal of a request, from a Bearer token or the page cookie."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from tapeworks.errors import Forbidden, Unauthorized
from tapeworks.http.deps import READ_METHODS, get_runtime, request_db
from tapeworks.users.service import Principal, resolve_token

SESSION_COOKIE = "tw_session"


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise Unauthorized("the Authorization header must be 'Bearer <token>'")
        return value.strip()
    return None


def request_token(request: Request) -> str | None:
    """The token the caller sent: a Bearer token, or the one in the signed page cookie."""
    token = _bearer(request)
    if token is None:
        cookie_reader = getattr(request.app.state, "cookie_reader", None)
        token = cookie_reader(request) if cookie_reader else None
    return token


def resolve_principal(request: Request) -> Principal | None:
    """The caller from a Bearer token, or from the signed page cookie.

    Reads use the request's own transaction (one transaction per poll); writes look the
    token up in a short read of their own, so an upload streaming in holds no lock.
    """
    token = request_token(request)
    if token is None:
        return None
    if request.method in READ_METHODS:
        return resolve_token(request_db(request), token)
    with get_runtime(request).database.transaction(write=False) as db:
        return resolve_token(db, token)


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
