"""Shows and share links through the API, on SQLite and PostgreSQL built by the migrations."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from io import BytesIO

import pytest
from PIL import Image
from sqlalchemy import select

from tapeworks.shows import service as shows_service
from tapeworks.shows.feed import podcast_guid
from tapeworks.shows.models import ShareLink, Show
from tapeworks.users.service import hash_token
from tests.conftest import Api
from tests.helpers.api import upload_ok
from tests.helpers.paths import SPEECH_DIR

SHOW = {
    "title": "Coaching Conversations", "description": "Real sessions.", "language": "en-gb",
    "category": "health & fitness", "subcategory": "Mental Health", "explicit": False,
    "author": "Anna", "owner_name": "Anna O", "owner_email": "anna@example.org",
    "link": "https://example.org", "copyright": "© 2026 Anna", "type": "serial",
}


def _image(size: tuple[int, int], fmt: str = "JPEG", mode: str = "RGB") -> bytes:
    buf = BytesIO()
    Image.new(mode, size, (10, 200, 30, 0) if mode == "CMYK" else (10, 20, 30)).save(buf, fmt)
    return buf.getvalue()


def test_show_lifecycle(api: Api, alice: dict[str, str]) -> None:
    r = api.client.post("/api/v1/shows", json=SHOW, headers=alice)
    assert r.status_code == 201, r.text
    show = r.json()
    assert (show["language"], show["category"], show["subcategory"], show["type"]) == (
        "en-GB", "Health & Fitness", "Mental Health", "serial")
    assert show["feed_url"] == f"http://testserver/feeds/{show['id']}.xml"
    assert show["podcast_guid"] == podcast_guid(show["feed_url"])
    assert show["feed_token"] is None and show["artwork_url"] is None
    assert uuid.UUID(show["podcast_guid"]).version == 5

    r = api.client.patch(f"/api/v1/shows/{show['id']}", headers=alice,
                         json={"title": "Renamed", "category": "Technology"})
    assert r.status_code == 200, r.text
    changed = r.json()
    assert (changed["title"], changed["category"], changed["subcategory"]) == (
        "Renamed", "Technology", None)
    assert changed["podcast_guid"] == show["podcast_guid"]  # fixed at creation
    assert changed["description"] == "Real sessions."  # untouched fields stay

    listed = api.client.get("/api/v1/shows", headers=alice).json()
    assert [s["id"] for s in listed] == [show["id"]]
    assert api.client.get(f"/api/v1/shows/{show['id']}", headers=alice).json()["title"] == "Renamed"

    assert api.client.delete(f"/api/v1/shows/{show['id']}", headers=alice).status_code == 204
    assert api.client.get(f"/api/v1/shows/{show['id']}", headers=alice).status_code == 404


def test_podcast_guid_never_changes_when_the_public_url_does(api: Api, make_api, db_url) -> None:
    headers = api.create_user("carol@example.com")
    show = api.client.post("/api/v1/shows", json=SHOW, headers=headers).json()
    moved = make_api(db_url, public_url="https://podcasts.example.net/")
    got = moved.client.get(f"/api/v1/shows/{show['id']}", headers=headers).json()
    assert got["feed_url"] == f"https://podcasts.example.net/feeds/{show['id']}.xml"
    assert got["podcast_guid"] == show["podcast_guid"]


def test_another_users_show_is_404(api: Api, alice, bob) -> None:
    sid = api.client.post("/api/v1/shows", json=SHOW, headers=alice).json()["id"]
    for method, path, kw in [("get", f"/api/v1/shows/{sid}", {}),
                             ("patch", f"/api/v1/shows/{sid}", {"json": {"title": "x"}}),
                             ("delete", f"/api/v1/shows/{sid}", {}),
                             ("post", f"/api/v1/shows/{sid}/feed-token", {})]:
        r = getattr(api.client, method)(path, headers=bob, **kw)
        assert r.status_code == 404, (method, path, r.text)
    assert api.client.get("/api/v1/shows", headers=bob).json() == []
    assert api.client.get("/api/v1/shows").status_code == 401


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"category": "Podcasting"}, "category", "not an Apple Podcasts category"),
        ({"subcategory": "Running"}, "subcategory", "not a subcategory"),
        ({"language": "english please"}, "language", "BCP 47"),
        ({"description": "é" * 2001}, "description", "4,000 bytes"),
        ({"title": "   "}, "title", "required"),
        ({"type": "daily"}, "type", "episodic, serial"),
        ({"owner_email": "not-an-address"}, "owner_email", "e-mail address"),
        ({"link": "javascript:alert(1)"}, "link", "http://"),
    ],
)
def test_bad_show_fields_are_422_naming_the_field(api: Api, alice, change, field, words) -> None:
    r = api.client.post("/api/v1/shows", json={**SHOW, **change}, headers=alice)
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert words in error["message"]
    assert field in error["message"] or error.get("details", {}).get("field") == field


def test_private_show_token_is_shown_once_stored_hashed_and_replaced(api: Api, alice) -> None:
    r = api.client.post("/api/v1/shows", json={**SHOW, "private": True}, headers=alice)
    show = r.json()
    token = show["feed_token"]
    assert token and len(token) >= 40
    assert show["feed_url"].endswith(f"/feeds/{show['id']}.xml?token={token}")
    again = api.client.get(f"/api/v1/shows/{show['id']}", headers=alice).json()
    assert again["feed_token"] is None and "token=" not in again["feed_url"]
    with api.runtime.database.transaction(write=False) as db:
        row = db.get(Show, show["id"])
        assert row.feed_token_hash == hash_token(token) and token not in row.feed_token_hash
        assert shows_service.show_by_feed_token(db, show["id"], token).id == show["id"]

    rotated = api.client.post(f"/api/v1/shows/{show['id']}/feed-token", headers=alice).json()
    assert rotated["feed_token"] and rotated["feed_token"] != token
    with api.runtime.database.transaction(write=False) as db:
        for bad in (token, None, "", "x" * 43):
            with pytest.raises(Exception) as info:
                shows_service.show_by_feed_token(db, show["id"], bad)
            assert getattr(info.value, "status_code", None) == 404
        assert shows_service.show_by_feed_token(db, show["id"], rotated["feed_token"])

    public = api.client.post("/api/v1/shows", json=SHOW, headers=alice).json()
    r = api.client.post(f"/api/v1/shows/{public['id']}/feed-token", headers=alice)
    assert r.status_code == 422 and "public" in r.json()["error"]["message"]


def test_artwork_is_checked_on_the_real_bytes(api: Api, alice) -> None:
    sid = api.client.post("/api/v1/shows", json=SHOW, headers=alice).json()["id"]
    url = f"/api/v1/shows/{sid}/artwork"
    cases = [
        (_image((600, 600)), "small.jpg", 422, "at least 1400 x 1400"),
        (_image((1600, 1400)), "wide.jpg", 422, "square"),
        (_image((1400, 1400), mode="CMYK"), "cmyk.jpg", 422, "CMYK"),
        (_image((1400, 1400), fmt="GIF"), "renamed.png", 422, "GIF"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * (11 * 1024 * 1024), "huge.png", 413, "limit"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * (50 * 1024 * 1024), "50mb.jpg", 413, "limit"),
    ]
    for data, name, code, words in cases:
        r = api.client.put(url, headers=alice, files={"file": (name, data, "image/png")})
        assert r.status_code == code, (name, r.text)
        assert words in r.json()["error"]["message"], (name, r.text)
    assert api.client.get(f"/api/v1/shows/{sid}", headers=alice).json()["artwork_url"] is None

    good = _image((1400, 1400), fmt="PNG")
    r = api.client.put(url, headers=alice, files={"file": ("cover.png", good, "image/png")})
    assert r.status_code == 200, r.text
    assert r.json()["artwork_url"] == f"http://testserver/media/shows/{sid}/artwork.png"
    with api.runtime.database.transaction(write=False) as db:
        key = db.get(Show, sid).artwork_key
    assert api.runtime.store.get_bytes(key) == good

    jpeg = _image((1500, 1500))
    r = api.client.put(url, headers=alice, files={"file": ("cover.jpg", jpeg, "image/jpeg")})
    assert r.json()["artwork_url"].endswith("/artwork.jpg")
    assert not api.runtime.store.exists(key)  # the old file is gone after the commit


def test_share_links_are_shown_once_stored_hashed_expire_and_revoke(api: Api, alice, bob) -> None:
    sid = upload_ok(api.client, alice, SPEECH_DIR / "jfk.flac", title="jfk")
    r = api.client.post(f"/api/v1/sessions/{sid}/shares", headers=alice,
                        json={"allow_download": False})
    assert r.status_code == 201, r.text
    share = r.json()
    token = share["url"].rsplit("/s/", 1)[1]
    assert share["url"] == f"http://testserver/s/{token}" and len(token) >= 40
    assert share["allow_download"] is False and share["expires_at"] is None

    listed = api.client.get(f"/api/v1/sessions/{sid}/shares", headers=alice).json()
    assert [s["id"] for s in listed] == [share["id"]] and listed[0]["url"] is None
    now = datetime.now(UTC)
    with api.runtime.database.transaction(write=False) as db:
        row = db.scalar(select(ShareLink).where(ShareLink.id == share["id"]))
        assert row.token_hash == hash_token(token)
        assert shows_service.share_by_token(db, token, now=now).session_id == sid

    # another user's session cannot be shared or listed; their link cannot be revoked
    assert api.client.post(f"/api/v1/sessions/{sid}/shares", headers=bob, json={}).status_code == 404
    assert api.client.get(f"/api/v1/sessions/{sid}/shares", headers=bob).status_code == 404
    assert api.client.delete(f"/api/v1/shares/{share['id']}", headers=bob).status_code == 404

    soon = now + timedelta(hours=1)
    r = api.client.post(f"/api/v1/sessions/{sid}/shares", headers=alice,
                        json={"expires_at": soon.isoformat()})
    expiring = r.json()["url"].rsplit("/s/", 1)[1]
    past = api.client.post(f"/api/v1/sessions/{sid}/shares", headers=alice,
                           json={"expires_at": (now - timedelta(minutes=1)).isoformat()})
    assert past.status_code == 422 and "future" in past.json()["error"]["message"]
    with api.runtime.database.transaction(write=False) as db:
        assert shows_service.share_by_token(db, expiring, now=now)
        with pytest.raises(Exception) as info:
            shows_service.share_by_token(db, expiring, now=soon + timedelta(seconds=1))
        assert getattr(info.value, "status_code", None) == 404

    assert api.client.delete(f"/api/v1/shares/{share['id']}", headers=alice).status_code == 204
    with api.runtime.database.transaction(write=False) as db:
        with pytest.raises(Exception) as info:
            shows_service.share_by_token(db, token, now=now)
        assert getattr(info.value, "status_code", None) == 404
    listed = api.client.get(f"/api/v1/sessions/{sid}/shares", headers=alice).json()
    assert {s["id"]: s["revoked_at"] is not None for s in listed}[share["id"]] is True
