"""Engines with pool settings that are right for each dialect (rule 9)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url


def normalise_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL whatever spelling the operator used."""
    u = make_url(url)
    if u.get_backend_name() == "postgresql" and u.drivername != "postgresql+psycopg":
        u = u.set(drivername="postgresql+psycopg")
    return u.render_as_string(hide_password=False)


def make_engine(url: str, *, echo: bool = False) -> Engine:
    url = normalise_url(url)
    backend = make_url(url).get_backend_name()
    if backend == "sqlite":
        engine = create_engine(
            url,
            echo=echo,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_pre_ping=False,  # a local file cannot drop the connection; saves a query per checkout
            pool_size=8,
            max_overflow=24,
        )
        _configure_sqlite(engine)
        return engine
    if backend == "postgresql":
        return create_engine(
            url,
            echo=echo,
            pool_pre_ping=True,  # a connection dropped by the server is replaced, not used
            pool_recycle=1800,  # below typical proxy/idle timeouts
            pool_size=5,
            max_overflow=10,
            pool_timeout=30,
            connect_args={"connect_timeout": 10, "application_name": "tapeworks"},
        )
    raise ValueError(f"unsupported database URL scheme {backend!r}: use sqlite:/// or postgresql://")


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, emit BEGIN, so we can choose BEGIN IMMEDIATE.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Write transactions take the database write lock up front (BEGIN IMMEDIATE), so two
        # writers queue on the busy timeout instead of failing on a lock upgrade, and
        # check-then-insert sequences (quotas) are serialised.
        if conn.get_execution_options().get("sqlite_immediate"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"
