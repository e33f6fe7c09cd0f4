"""Units of work: the edge opens one, the services flush, the edge commits.

`Database.run(fn)` is the unit of work for tasks and the CLI: it runs `fn(db)` in one
transaction and commits; when the transaction fails because the connection dropped
(server restarted, backend terminated) or SQLite was busy, it rolls back and runs the
whole unit again, never continuing a broken transaction (rule 9).

`after_commit(db, fn)` defers side effects (enqueueing a job) until the commit has
happened; a rollback drops them, so a worker never sees a job before its rows exist.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from tapeworks.db.engine import make_engine
from tapeworks.logging import get_logger

T = TypeVar("T")
log = get_logger("tapeworks.db")

_AFTER_COMMIT = "tapeworks.after_commit"


def after_commit(db: DbSession, fn: Callable[[], Any]) -> None:
    db.info.setdefault(_AFTER_COMMIT, []).append(fn)


@event.listens_for(DbSession, "after_commit")
def _run_after_commit(db: DbSession) -> None:
    callbacks = db.info.pop(_AFTER_COMMIT, [])
    for fn in callbacks:
        try:
            fn()
        except Exception as exc:  # the commit stands; the reconciler re-sends lost messages
            log.error("db.after_commit_failed", error=repr(exc))


@event.listens_for(DbSession, "after_rollback")
def _drop_after_commit(db: DbSession) -> None:
    db.info.pop(_AFTER_COMMIT, None)


def is_transient(exc: BaseException) -> bool:
    """A failure worth retrying the whole unit of work for."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, OperationalError):
        msg = str(exc).lower()
        markers = (
            "server closed the connection",
            "terminating connection",
            "connection refused",
            "could not connect",
            "connection is closed",
            "consuming input failed",
            "the database system is starting up",
            "the database system is shutting down",
            "database is locked",
            "connection timeout",
            "ssl syscall",
            "eof detected",
            "deadlock detected",
            "could not serialize access",
        )
        return any(m in msg for m in markers)
    return False


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.dialect = self.engine.dialect.name
        self._reader = sessionmaker(self.engine, expire_on_commit=False, autoflush=True)
        writer_bind = self.engine.execution_options(sqlite_immediate=True)
        self._writer = sessionmaker(writer_bind, expire_on_commit=False, autoflush=True)

    def session(self, *, write: bool = True) -> DbSession:
        """A new session; on SQLite a write session begins with BEGIN IMMEDIATE."""
        return (self._writer if write else self._reader)()

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[DbSession]:
        """One transaction, committed on success, rolled back on any error. No retry."""
        db = self.session(write=write)
        try:
            yield db
            db.commit()
        except BaseException:
            db.rollback()
            raise
        finally:
            db.close()

    def run(
        self,
        fn: Callable[[DbSession], T],
        *,
        write: bool = True,
        max_seconds: float = 90.0,
    ) -> T:
        """Run `fn` as one unit of work, retried whole on transient connection failures."""
        deadline = time.monotonic() + max_seconds
        attempt = 0
        while True:
            attempt += 1
            try:
                with self.transaction(write=write) as db:
                    return fn(db)
            except (OperationalError, DBAPIError) as exc:
                if not is_transient(exc) or time.monotonic() > deadline:
                    raise
                delay = min(5.0, 0.1 * 2 ** min(attempt, 6)) * (0.5 + random.random())
                log.warning("db.retry", attempt=attempt, delay=round(delay, 2), error=str(exc)[:200])
                time.sleep(delay)

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()
