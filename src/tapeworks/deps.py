"""Request dependencies: the database session (the edge owns the transaction) and the caller."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session as DbSession

from tapeworks.config import Settings
from tapeworks.errors import Forbidden, Unauthorized
from tapeworks.runtime import Runtime
from tapeworks.users.service import Principal, resolve_token

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SESSION_COOKIE = "tw_session"


def get_runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def get_settings(request: Request) -> Settings:
    return get_runtime(request).settings


def get_db(request: Request) -> Iterator[DbSession]:
    """One transaction per request, committed before the response is sent.

    Writes on SQLite begin with BEGIN IMMEDIATE (serialised); reads do not block.
    The session is lazy: nothing is held while an upload streams in before first use.
    """
    rt = get_runtime(request)
    if request.method in READ_METHODS:
        db = _request_db(request)  # shared with the token lookup
    else:
        db = rt.database.session(write=True)
    try:
        yield db
        db.commit()
    except BaseException:
        db.rollback()
        raise
    finally:
        db.close()


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise Unauthorized("the Authorization header must be 'Bearer <token>'")
        return value.strip()
    return None


def resolve_principal(request: Request) -> Principal | None:
    """The caller from a Bearer token, or from the signed page cookie.

    Reads use the request's own transaction (one transaction per poll); writes look the
    token up in a short read of their own, so an upload streaming in holds no lock.
    """
    rt = get_runtime(request)
    token = _bearer(request)
    if token is None:
        cookie_reader = getattr(request.app.state, "cookie_reader", None)
        token = cookie_reader(request) if cookie_reader else None
    if token is None:
        return None
    if request.method in READ_METHODS:
        return resolve_token(_request_db(request), token)
    with rt.database.transaction(write=False) as db:
        return resolve_token(db, token)


_REQUEST_DB = "tapeworks_db"


def _request_db(request: Request) -> DbSession:
    db: DbSession | None = getattr(request.state, _REQUEST_DB, None)
    if db is None:
        db = get_runtime(request).database.session(write=False)
        setattr(request.state, _REQUEST_DB, db)
    return db


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


DbDep = Annotated[DbSession, Depends(get_db, scope="function")]
CurrentUser = Annotated[Principal, Depends(current_principal)]
CurrentAdmin = Annotated[Principal, Depends(current_admin)]
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
