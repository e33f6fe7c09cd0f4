"""The pollers' route: `GET /sessions/{id}/status` answers from one query with an ETag,
304s when nothing changed, and every token or ownership problem still gets its own answer."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import update

from tapeworks.db.base import utcnow
from tapeworks.sessions.models import RecordingSession
from tapeworks.users.models import ApiToken, User
from tests.conftest import Api
from tests.helpers import audio
from tests.helpers.api import upload_ok


def _message(r: object) -> str:
    return str(r.json()["error"]["message"])  # type: ignore[attr-defined]


def test_status_has_an_etag_and_answers_304_until_it_changes(
        api: Api, alice: dict[str, str], tmp_path: Path) -> None:
    sid = upload_ok(api.client, alice, audio.write_tone(tmp_path / "t.wav", seconds=1.0))
    url = f"/api/v1/sessions/{sid}/status"
    first = api.client.get(url, headers=alice)
    assert first.status_code == 200 and first.json()["status"] == "queued"
    etag = first.headers["etag"]
    assert etag.startswith('"') and "no-cache" in first.headers["cache-control"]
    again = api.client.get(url, headers={**alice, "If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    weak = api.client.get(url, headers={**alice, "If-None-Match": f'"other", W/{etag}'})
    assert weak.status_code == 304
    with api.runtime.database.transaction() as db:  # the worker moves on
        db.execute(update(RecordingSession).where(RecordingSession.id == sid)
                   .values(status="processing", progress_percentage=42.25, stage="transcribing"))
    moved = api.client.get(url, headers={**alice, "If-None-Match": etag})
    assert moved.status_code == 200 and moved.headers["etag"] != etag
    body = moved.json()
    assert (body["status"], body["progress_percentage"], body["stage"]) == \
        ("processing", 42.2, "transcribing")
    assert set(body) == {"status", "progress_percentage", "stage", "message", "eta_seconds",
                         "attempt", "error", "error_stage"}


def test_every_token_problem_and_other_users_ids_keep_their_answers(
        api: Api, alice: dict[str, str], bob: dict[str, str], tmp_path: Path) -> None:
    sid = upload_ok(api.client, alice, audio.write_tone(tmp_path / "t.wav", seconds=1.0))
    url = f"/api/v1/sessions/{sid}/status"
    assert api.client.get(url).status_code == 401
    assert "token is not valid" in _message(api.client.get(
        url, headers={"Authorization": "Bearer tw_nope"}))
    r = api.client.get(url, headers=bob)  # another user's session: 404, no existence leak
    assert r.status_code == 404 and sid in _message(r)
    assert api.client.get("/api/v1/sessions/nope/status", headers=alice).status_code == 404

    r = api.client.post("/api/v1/auth/tokens", json={"name": "poller"}, headers=alice)
    token = r.json()
    poller = {"Authorization": f"Bearer {token['access_token']}"}
    assert api.client.get(url, headers=poller).status_code == 200
    with api.runtime.database.transaction() as db:
        db.execute(update(ApiToken).where(ApiToken.id == token["id"])
                   .values(expires_at=utcnow() - timedelta(seconds=1)))
    r = api.client.get(url, headers=poller)
    assert r.status_code == 401 and "expired" in _message(r)
    with api.runtime.database.transaction() as db:
        db.execute(update(ApiToken).where(ApiToken.id == token["id"])
                   .values(expires_at=None, revoked_at=utcnow()))
    r = api.client.get(url, headers=poller)
    assert r.status_code == 401 and "revoked" in _message(r)
    with api.runtime.database.transaction() as db:
        db.execute(update(User).where(User.email == "alice@example.com").values(is_active=False))
    r = api.client.get(url, headers=alice)
    assert r.status_code == 401 and "disabled" in _message(r)


def test_postgresql_polls_are_answered_in_the_event_loop_and_sqlite_inline(
        api: Api, alice: dict[str, str], dialect: str, tmp_path: Path) -> None:
    """On PostgreSQL the pollers' query runs on the async pool (one round trip, no thread
    hop); on SQLite it runs inline and no pool is ever made."""
    sid = upload_ok(api.client, alice, audio.write_tone(tmp_path / "t.wav", seconds=1.0))
    url = f"/api/v1/sessions/{sid}/status"
    for _ in range(3):
        r = api.client.get(url, headers=alice)
        assert r.status_code == 200 and r.json()["status"] == "queued"
    reader = getattr(api.client.app.state, "status_reader", None)
    if dialect == "sqlite":
        assert reader is None
        return
    assert reader is not None
    stats = reader._pool.get_stats()
    assert stats["requests_num"] >= 3 and stats.get("requests_errors", 0) == 0
    # a bad token is not answered by the fast path: the ordinary path says why
    before = reader._pool.get_stats()["requests_num"]
    r = api.client.get(url, headers={"Authorization": "Bearer tw_nope"})
    assert r.status_code == 401 and "token is not valid" in _message(r)
    assert reader._pool.get_stats()["requests_num"] == before + 1


def test_a_database_the_fast_path_cannot_reach_falls_back_to_the_ordinary_path(
        api: Api, alice: dict[str, str], dialect: str, tmp_path: Path) -> None:
    """Nothing depends on the fast path: when its connections cannot be made (here: it is
    pointed at a port nobody listens on) every poll is still answered, by the ordinary
    path, with the same body and ETag."""
    from tapeworks.sessions.polling import AsyncStatusReader

    sid = upload_ok(api.client, alice, audio.write_tone(tmp_path / "t.wav", seconds=1.0))
    url = f"/api/v1/sessions/{sid}/status"
    good = api.client.get(url, headers=alice)
    dead = AsyncStatusReader("postgresql://postgres@127.0.0.1:9/none", wait_seconds=0.2)
    api.client.app.state.status_reader = dead
    for _ in range(3):
        r = api.client.get(url, headers=alice)
        assert r.status_code == 200 and r.json() == good.json()
        assert r.headers["etag"] == good.headers["etag"]
    assert api.client.get(url, headers={**alice, "If-None-Match": good.headers["etag"]}) \
        .status_code == 304
    if dialect == "postgresql":  # it was tried, failed, and now waits before trying again
        assert dead._broken_until > 0
