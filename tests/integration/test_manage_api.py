"""Manage what you made (issue 11): rename sessions and episodes, assets in use by templates,
templates that say which assets they hold. SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Api
from tests.helpers import audio
from tests.helpers.api import upload_ok


def _asset(api: Api, user: dict[str, str], path: Path, kind: str, name: str) -> str:
    with open(path, "rb") as fh:
        r = api.client.post("/api/v1/assets", headers=user, files={"file": (path.name, fh)},
                            data={"kind": kind, "name": name})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def test_rename_a_session(api: Api, tmp_path: Path) -> None:
    user = api.create_user("pod@example.com", plan="pro")
    sid = upload_ok(api.client, user, audio.write_tone(tmp_path / "t.wav", seconds=1.0), title="Draft")
    r = api.client.patch(f"/api/v1/sessions/{sid}", headers=user, json={"title": "  Interview   with Ann "})
    assert r.status_code == 200, r.text
    assert r.json()["title"] == "Interview with Ann"
    assert api.client.get(f"/api/v1/sessions/{sid}", headers=user).json()["title"] == "Interview with Ann"
    bad = api.client.patch(f"/api/v1/sessions/{sid}", headers=user, json={"title": ""})
    assert bad.status_code == 422
    blank = api.client.patch(f"/api/v1/sessions/{sid}", headers=user, json={"title": "   "})
    assert blank.status_code == 422 and "name" in blank.json()["error"]["message"]
    other = api.create_user("other@example.com")
    assert api.client.patch(f"/api/v1/sessions/{sid}", headers=other, json={"title": "x"}).status_code == 404


def test_an_asset_in_use_is_not_deleted_silently(api: Api, tmp_path: Path) -> None:
    user = api.create_user("pod@example.com", plan="pro")
    intro = _asset(api, user, audio.write_tone(tmp_path / "intro.wav", seconds=1.0), "intro", "Jingle")
    music = _asset(api, user, audio.write_tone(tmp_path / "bed.wav", seconds=2.0), "music", "Bed")
    spare = _asset(api, user, audio.write_tone(tmp_path / "x.wav", seconds=1.0), "other", "Spare")
    a = api.client.post("/api/v1/templates", headers=user, json={
        "name": "Weekly", "intro_asset_id": intro, "music_asset_id": music}).json()
    b = api.client.post("/api/v1/templates", headers=user, json={"name": "Special", "intro_asset_id": intro}).json()
    # templates say which assets they hold
    listed = {t["name"]: t for t in api.client.get("/api/v1/templates", headers=user).json()}
    assert [(x["role"], x["name"]) for x in listed["Weekly"]["assets"]] == [("intro", "Jingle"), ("music", "Bed")]
    assert api.client.get(f"/api/v1/templates/{b['id']}", headers=user).json()["assets"][0]["id"] == intro
    # deleting the intro: 409 naming both templates, nothing changed
    r = api.client.delete(f"/api/v1/assets/{intro}", headers=user)
    assert r.status_code == 409, r.text
    err = r.json()["error"]
    assert "Weekly" in err["message"] and "Special" in err["message"] and "Jingle" in err["message"]
    assert api.client.get(f"/api/v1/assets/{intro}", headers=user).status_code == 200
    assert api.client.get(f"/api/v1/templates/{a['id']}", headers=user).json()["intro_asset_id"] == intro
    # an unused asset goes at once; force takes the used one out of its templates
    assert api.client.delete(f"/api/v1/assets/{spare}", headers=user).status_code == 204
    assert api.client.delete(f"/api/v1/assets/{intro}?force=true", headers=user).status_code == 204
    assert api.client.get(f"/api/v1/assets/{intro}", headers=user).status_code == 404
    after = api.client.get(f"/api/v1/templates/{a['id']}", headers=user).json()
    assert after["intro_asset_id"] is None and after["music_asset_id"] == music
    assert [x["role"] for x in after["assets"]] == ["music"]
    assert api.client.get(f"/api/v1/templates/{b['id']}", headers=user).json()["assets"] == []
    keys = [o.key for o in api.runtime.store.list("")]
    assert not any(intro in k for k in keys) and any(music in k for k in keys)
