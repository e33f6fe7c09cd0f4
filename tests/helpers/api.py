"""Calling the API from tests: sign in, upload a recording, wait for a status.

Every helper takes an `httpx.Client`: a `TestClient` (`api.client`) or a client on a live
server (`http_client(url)`), so the same helpers serve in-process and real-socket tests.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

FINISHED = ("completed", "failed", "cancelled")


def http_client(base_url: str, timeout: float = 60.0) -> httpx.Client:
    return httpx.Client(base_url=base_url, timeout=timeout)


def login(client: httpx.Client, email: str, password: str = "password123") -> dict[str, str]:
    r = client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def upload(client: httpx.Client, headers: dict[str, str], path: Path, *, name: str | None = None,
           title: str = "a talk", **data: Any) -> httpx.Response:
    """POST /api/v1/sessions with the file; the raw response (for refusals)."""
    with open(path, "rb") as fh:
        return client.post("/api/v1/sessions", headers=headers,
                           files={"file": (name or path.name, fh, "application/octet-stream")},
                           data={"title": title, **data})


def upload_ok(client: httpx.Client, headers: dict[str, str], path: Path, **kw: Any) -> str:
    """Upload and expect 201; the new session's id."""
    r = upload(client, headers, path, **kw)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def wait_status(client: httpx.Client, headers: dict[str, str], sid: str,
                want: tuple[str, ...] = ("completed",), *, timeout: float = 60.0,
                what: str = "sessions", seen: list[dict[str, Any]] | None = None,
                fail: bool = False) -> dict[str, Any]:
    """Poll `/{what}/{id}/status` until its status is one of `want`. With `fail`, a timeout
    (or reaching another finished status) fails the test, saying where it stood."""
    deadline = time.monotonic() + timeout
    while True:
        st = dict(client.get(f"/api/v1/{what}/{sid}/status", headers=headers).json())
        if seen is not None:
            seen.append(st)
        if st.get("status") in want:
            return st
        if fail and st.get("status") in FINISHED:
            pytest.fail(f"{what} {sid} ended {st.get('status')}, not {want}: {st}")
        if time.monotonic() > deadline:
            if fail:
                pytest.fail(f"{what} {sid} did not reach {want} in {timeout} s: {st}")
            return st
        time.sleep(0.05)


def add_user(runtime: Any, email: str, password: str = "password123", **kw: Any) -> str:
    """Create a user straight in the database (as the CLI does); their id."""
    from tapeworks.users import service as users

    with runtime.database.transaction() as db:
        return str(users.create_user(db, email=email, password=password, **kw).id)
