"""Rendered episodes count towards the plan's storage (every completed version keeps its
audio, re-timed transcript and edit list), and a plan whose storage is used up refuses a
new render with the reason, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Api
from tests.helpers.api import upload, wait_status
from tests.helpers.audio import write_spaced_bursts

SETTINGS = {"loudness": {"enabled": False}, "render": {"format": "wav", "sample_rate": 44100}}


@pytest.fixture
def ep_api(db_url: str, make_api: Callable[..., Api]) -> Api:
    return make_api(db_url, workers=2)


def _used(api: Api, user: dict[str, str]) -> int:
    return int(api.client.get("/api/v1/plan", headers=user).json()["usage"]["storage_bytes_used"])


def _done(api: Api, user: dict[str, str], eid: str) -> dict[str, Any]:
    st = wait_status(api.client, user, eid, ("completed", "failed", "cancelled"),
                     what="episodes", timeout=120)
    assert st["status"] == "completed", st
    return api.client.get(f"/api/v1/episodes/{eid}", headers=user).json()


def _episode_bytes(api: Api, eid: str) -> int:
    return sum(o.size for o in api.runtime.store.list("") if f"/episodes/{eid}/" in o.key)


def test_every_version_of_an_episode_counts_towards_storage(ep_api: Api, tmp_path: Path) -> None:
    api = ep_api
    user = api.create_user("pod@example.com", plan="pro")
    sid = upload(api.client, user, write_spaced_bursts(tmp_path / "b.wav"), speakers="1").json()["id"]
    assert wait_status(api.client, user, sid)["status"] == "completed"
    before = _used(api, user)
    eid = api.client.post(f"/api/v1/sessions/{sid}/episodes", headers=user, json=SETTINGS).json()["id"]
    _done(api, user, eid)
    one = _episode_bytes(api, eid)
    assert one > 0 and _used(api, user) == before + one
    r = api.client.post(f"/api/v1/episodes/{eid}/retry", headers=user)
    assert r.status_code in (200, 202), r.text
    assert _done(api, user, eid)["version"] == 2
    two = _episode_bytes(api, eid)
    assert two > one  # the first version is kept beside the second
    assert _used(api, user) == before + two
    assert api.client.delete(f"/api/v1/episodes/{eid}", headers=user).status_code == 204
    assert _used(api, user) == before


def test_a_plan_with_its_storage_used_up_refuses_a_new_render(
        db_url: str, make_api: Callable[..., Api], tmp_path: Path) -> None:
    api = make_api(db_url, workers=2)
    user = api.create_user("pod@example.com", plan="pro")
    sid = upload(api.client, user, write_spaced_bursts(tmp_path / "b.wav"), speakers="1").json()["id"]
    assert wait_status(api.client, user, sid)["status"] == "completed"
    eid = api.client.post(f"/api/v1/sessions/{sid}/episodes", headers=user, json=SETTINGS).json()["id"]
    _done(api, user, eid)
    used = _used(api, user)
    # the operator lowers the plan's storage to exactly what is used (a second app on the
    # same database and store, as after a restart with the new catalogue)
    tight = make_api(db_url, plan_overrides=f'{{"pro": {{"max_storage_bytes": {used}}}}}')
    for r in (tight.client.post(f"/api/v1/episodes/{eid}/retry", headers=user),
              tight.client.post(f"/api/v1/sessions/{sid}/episodes", headers=user, json=SETTINGS),
              tight.client.put(f"/api/v1/episodes/{eid}/cuts", headers=user, json={"restore": []})):
        assert 400 <= r.status_code < 500, r.text
        message = r.json()["error"]["message"]
        assert "storage are used up" in message and "delete old sessions" in message, message
        assert r.json()["error"]["details"]["limit_type"] == "max_storage_bytes"
    versions = tight.client.get(f"/api/v1/episodes/{eid}/versions", headers=user).json()
    assert [v["version"] for v in versions["versions"]] == [1]  # nothing was started
    assert len(tight.client.get(f"/api/v1/sessions/{sid}/episodes", headers=user).json()) == 1
    r = api.client.post(f"/api/v1/episodes/{eid}/retry", headers=user)  # the roomier plan
    assert r.status_code in (200, 202), r.text
