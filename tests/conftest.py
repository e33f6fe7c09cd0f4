"""Shared fixtures: real databases built by the migrations, apps on them, users.

Each test gets a fresh database: on SQLite a copy of a file migrated once per run, on
PostgreSQL a `CREATE DATABASE ... TEMPLATE` of a database migrated once per run. The
PostgreSQL server must be up (`.ci/run` starts it); the tests fail, never skip, if not.
"""

from __future__ import annotations

import functools
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import redis
from fastapi.testclient import TestClient
from hypothesis import settings as hypothesis_settings

from tapeworks.app import create_app, server_options
from tapeworks.config import Settings
from tapeworks.db import migrate
from tapeworks.runtime import Runtime
from tapeworks.users import service as users

# Property tests explore the same examples on every run (CI must not pass or fail by luck);
# run with --hypothesis-seed=random locally to hunt for new failures.
hypothesis_settings.register_profile("tapeworks", derandomize=True, deadline=None,
                                     print_blob=True)
hypothesis_settings.load_profile("tapeworks")

pytest_plugins = ["tests.helpers.s3", "tests.helpers.webhook_receiver", "tests.helpers.smtp_server",
                  "tests.helpers.eleven"]

PG_ADMIN_DSN = os.environ.get("TAPEWORKS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")

DIALECTS = ["sqlite", "postgresql"]


def _pg_url(dbname: str) -> str:
    base = PG_ADMIN_DSN.rsplit("/", 1)[0]
    return f"{base}/{dbname}".replace("postgresql://", "postgresql+psycopg://", 1)


def _pg_admin() -> psycopg.Connection[Any]:
    try:
        return psycopg.connect(PG_ADMIN_DSN, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:  # pragma: no cover - environment problem
        pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN_DSN}: {exc}. "
                    "Start it (see README) — these tests never skip.")


def create_pg_database(template: str | None = None) -> str:
    name = f"tw_{uuid.uuid4().hex[:12]}"
    with _pg_admin() as conn:
        if template:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        else:
            conn.execute(f'CREATE DATABASE "{name}"')
    return name


def drop_pg_database(name: str) -> None:
    with _pg_admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    migrate.upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    name = create_pg_database()
    migrate.upgrade(_pg_url(name))
    # a template database must have no other connections when it is copied
    yield name
    drop_pg_database(name)


@pytest.fixture
def fresh_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[str], str]:
    """Factory: a fresh, migrated database URL for a dialect."""
    created: list[str] = []

    def make(dialect: str) -> str:
        if dialect == "sqlite":
            template: Path = request.getfixturevalue("sqlite_template")
            path = tmp_path / f"db-{uuid.uuid4().hex[:6]}.db"
            shutil.copy(template, path)
            return f"sqlite:///{path}"
        template_name: str = request.getfixturevalue("pg_template")
        name = create_pg_database(template=template_name)
        created.append(name)
        return _pg_url(name)

    yield make  # type: ignore[misc]
    for name in created:
        drop_pg_database(name)


@pytest.fixture(params=DIALECTS)
def dialect(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def db_url(dialect: str, fresh_db_url: Callable[[str], str]) -> str:
    return fresh_db_url(dialect)


def make_settings(tmp_path: Path, database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "environment": "test",
        "data_dir": tmp_path / "data",
        "database_url": database_url,
        "secret_key": "test-" + uuid.uuid4().hex,
        "cors_origins": ["https://app.example.com"],
        "log_json": True,
        "workers": 0,
        "speech_engine": "fake",
    }
    values.update(overrides)
    return Settings(**values)


@dataclass
class Api:
    """A TestClient on a real app plus handles to its runtime."""

    client: TestClient
    runtime: Runtime

    def login(self, email: str, password: str) -> dict[str, str]:
        r = self.client.post("/api/v1/auth/login", json={"email": email, "password": password})
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['access_token']}"}

    def create_user(self, email: str, password: str = "password123", **kw: Any) -> dict[str, str]:
        with self.runtime.database.transaction() as db:
            users.create_user(db, email=email, password=password, **kw)
        return self.login(email, password)


@pytest.fixture
def make_api(tmp_path: Path) -> Iterator[Callable[..., Api]]:
    made: list[tuple[TestClient, Runtime]] = []

    def make(database_url: str, **overrides: Any) -> Api:
        settings = make_settings(tmp_path, database_url, **overrides)
        rt = Runtime(settings)
        app = create_app(settings, rt)
        client = TestClient(app, raise_server_exceptions=False)
        client.__enter__()
        made.append((client, rt))
        return Api(client, rt)

    yield make
    for client, rt in made:
        client.__exit__(None, None, None)
        rt.close()


@pytest.fixture
def api(db_url: str, make_api: Callable[..., Api]) -> Api:
    return make_api(db_url)


@pytest.fixture
def alice(api: Api) -> dict[str, str]:
    return api.create_user("alice@example.com")


@pytest.fixture
def bob(api: Api) -> dict[str, str]:
    return api.create_user("bob@example.com")


# --- a real HTTP server (uvicorn in a thread) for tests that need real sockets -------------
@dataclass
class LiveServer:
    url: str
    port: int
    runtime: Runtime
    server: Any
    thread: Any

    @functools.cached_property
    def client(self) -> httpx.Client:
        """An HTTP client on this server (real sockets), for the `tests.helpers.api` calls."""
        return httpx.Client(base_url=self.url, timeout=60)

    def stop(self) -> None:
        if "client" in self.__dict__:
            self.client.close()
        self.server.should_exit = True
        self.thread.join(timeout=15)


def start_live_server(settings: Settings, runtime: Runtime | None = None) -> LiveServer:
    import socket
    import threading
    import time

    import uvicorn

    rt = runtime or Runtime(settings)
    app = create_app(settings, rt)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on",
                            **server_options(settings))
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the live server did not start")
        time.sleep(0.05)
    return LiveServer(f"http://127.0.0.1:{port}", port, rt, server, thread)


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[Callable[..., LiveServer]]:
    started: list[LiveServer] = []

    def make(database_url: str, **overrides: Any) -> LiveServer:
        srv = start_live_server(make_settings(tmp_path, database_url, **overrides))
        started.append(srv)
        return srv

    yield make
    for srv in started:
        srv.stop()
        srv.runtime.close()


@pytest.fixture
def redis_queue() -> Iterator[str]:
    name = f"tw-test-{uuid.uuid4().hex[:8]}"
    client = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    try:
        client.ping()
    except redis.ConnectionError as exc:
        pytest.fail(f"Redis is not reachable on 127.0.0.1:6379 ({exc}); start it (see README)")
    yield name
    for key in client.scan_iter(f"huey.*{name}*"):
        client.delete(key)
