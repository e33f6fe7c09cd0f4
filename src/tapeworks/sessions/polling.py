"""The pollers' status query on PostgreSQL, answered in the event loop.

`GET /sessions/{id}/status` is asked several times a second by every client waiting for a
transcript. On SQLite the query is a read of a local file and runs inline. On PostgreSQL
the ordinary path costs a hop to the thread pool, a liveness ping when the pooled
connection is checked out and a rollback when it goes back: three round trips and a
thread switch around one small query. Here the query runs on a few autocommit connections
of psycopg's async pool, in the event loop, as a prepared statement: one round trip.

Nothing depends on this path working. A connection the server dropped, a pool that cannot
connect in time, any database error: the reader answers None and the route takes the
ordinary path (which pings, reconnects and says why a request is refused).
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from sqlalchemy.engine import make_url

from tapeworks.logging import get_logger
from tapeworks.queue.mirror import JobStatusOut
from tapeworks.sessions.service import poll_answer, poll_sql

log = get_logger(__name__)


def conninfo_of(url: str) -> str:
    """A libpq connection string from our database URL (any postgresql+driver spelling)."""
    u = make_url(url).set(drivername="postgresql")
    return u.render_as_string(hide_password=False)


class AsyncStatusReader:
    """A small async connection pool for the status query, opened lazily in the running
    event loop (a pool belongs to one loop; a new loop, as in tests, gets a new pool)."""

    def __init__(self, url: str, *, max_size: int = 4, wait_seconds: float = 0.5) -> None:
        self._conninfo = conninfo_of(url)
        self._sql = poll_sql("pyformat")
        self._max_size = max_size
        self._wait = wait_seconds
        self._pool: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._broken_until = 0.0
        self._last_answer = float("-inf")

    async def _ready_pool(self) -> Any:
        from psycopg_pool import AsyncConnectionPool

        loop = asyncio.get_running_loop()
        if self._pool is None or self._loop is not loop:
            # a pool of a loop that has gone (tests run one loop per client) is dropped:
            # its connections close when it is collected
            self._pool, self._loop = None, loop
            pool = AsyncConnectionPool(
                self._conninfo, min_size=1, max_size=self._max_size, open=False,
                timeout=self._wait, name="tapeworks-status",
                kwargs={"autocommit": True, "connect_timeout": 5,
                        "application_name": "tapeworks-status"})
            await pool.open(wait=False)
            self._pool = pool
        return self._pool

    async def poll(self, token_hash: str, session_id: str,
                   now: datetime | None = None) -> JobStatusOut | None:
        answered, row = await self.fetchone(self._sql, (token_hash, session_id))
        return poll_answer(row, now) if answered else None

    async def fetchone(self, sql: str, params: tuple[Any, ...]) -> tuple[bool, Any]:
        """(True, the first row or None) of one small read (``%s`` parameters); (False,
        None) when this path cannot answer now: the caller takes its ordinary path. Other
        pollers' queries (a feed's state) share the pool."""
        loop = asyncio.get_running_loop()
        if loop.time() < self._broken_until:
            return False, None  # the database refused us a moment ago: the ordinary path
        from psycopg_pool import PoolTimeout

        try:
            pool = await self._ready_pool()
            async with pool.connection() as conn:
                cur = await conn.execute(sql, params)
                row = await cur.fetchone()
        except PoolTimeout:
            # every connection busy under a burst: this request takes the ordinary path;
            # nothing answered for a while: the database is unreachable, stop for a moment
            if loop.time() - self._last_answer > 5.0:
                self._trip(loop, "no connection to the database")
            return False, None
        except Exception as exc:  # any other failure falls back to the ordinary path
            self._trip(loop, type(exc).__name__)
            return False, None
        self._last_answer = loop.time()
        return True, row

    def _trip(self, loop: asyncio.AbstractEventLoop, why: str) -> None:
        self._broken_until = loop.time() + 1.0
        log.warning("status fast path unavailable, using the ordinary path", error=why)

    async def close(self) -> None:
        pool, self._pool, self._loop = self._pool, None, None
        if pool is not None:
            await pool.close()

