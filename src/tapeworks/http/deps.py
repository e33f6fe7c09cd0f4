"""Request dependencies: the runtime, the settings and the database session (the edge owns
the transaction: one per request, committed before the response is sent)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.orm import Session as DbSession

if TYPE_CHECKING:
    from tapeworks.config import Settings
    from tapeworks.runtime import Runtime

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_REQUEST_DB = "tapeworks_db"


def get_runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def get_settings(request: Request) -> Settings:
    return get_runtime(request).settings


def request_db(request: Request) -> DbSession:
    """The read session of this request, shared by the token lookup and a read handler
    (one transaction per poll). The app's context middleware closes it."""
    db: DbSession | None = getattr(request.state, _REQUEST_DB, None)
    if db is None:
        db = get_runtime(request).database.session(write=False)
        setattr(request.state, _REQUEST_DB, db)
    return db


def get_db(request: Request) -> Iterator[DbSession]:
    """One transaction per request, committed before the response is sent.

    Writes on SQLite begin with BEGIN IMMEDIATE (serialised); reads do not block.
    The session is lazy: nothing is held while an upload streams in before first use.
    """
    db = request_db(request) if request.method in READ_METHODS \
        else get_runtime(request).database.session(write=True)
    try:
        yield db
        db.commit()
    except BaseException:
        db.rollback()
        raise
    finally:
        db.close()


DbDep = Annotated[DbSession, Depends(get_db, scope="function")]
if TYPE_CHECKING:  # the types, for the type checker; FastAPI only needs the dependency
    RuntimeDep = Runtime
    SettingsDep = Settings
else:
    RuntimeDep = Annotated[Any, Depends(get_runtime)]
    SettingsDep = Annotated[Any, Depends(get_settings)]
