"""`GET /plan`, `POST /plan/validate-action` and the admin API, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from tapeworks.db.uow import Database
from tapeworks.plans import service as plans_service
from tapeworks.plans.models import UsageEntry
from tapeworks.users.models import User
from tests.conftest import Api

VALIDATE = "/api/v1/plan/validate-action"


def me(api: Api, headers: dict[str, str]) -> dict[str, Any]:
    return dict(api.client.get("/api/v1/auth/me", headers=headers).json())


def validate(api: Api, headers: dict[str, str], action: str, **params: Any) -> Any:
    return api.client.post(VALIDATE, headers=headers, json={"action": action, "params": params})


def test_plan_shows_limits_and_usage(api: Api) -> None:
    admin = api.create_user("root@example.com", role="admin", plan="unlimited")
    alice = api.create_user("alice@example.com", plan="free")
    r = api.client.get("/api/v1/plan", headers=alice)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["plan"] == "free"
    assert body["limits"]["monthly_audio_seconds"] == 7200
    assert body["limits"]["export_formats"] == ["json", "txt", "srt", "vtt"]
    assert body["usage"] == {"monthly_used_seconds": 0.0, "pending_seconds": 0.0,
                             "monthly_remaining_seconds": 7200.0, "storage_bytes_used": 0,
                             "running_jobs": 0}
    assert body["period_start"] < body["reset_at"]
    uid = me(api, alice)["id"]
    adj = api.client.post(f"/api/v1/admin/users/{uid}/usage-adjustments", headers=admin,
                          json={"seconds": 600, "note": "imported from the old system"})
    assert adj.status_code == 201, adj.text
    usage = api.client.get("/api/v1/plan", headers=alice).json()["usage"]
    assert usage["monthly_used_seconds"] == 600 and usage["monthly_remaining_seconds"] == 6600


def test_validate_action_answers_per_action(api: Api) -> None:
    free = api.create_user("free@example.com", plan="free")
    pro = api.create_user("pro@example.com", plan="pro")
    ok = validate(api, free, "upload_file", bytes=1000, seconds=60)
    assert ok.status_code == 200 and ok.json()["allowed"] is True, ok.text
    assert ok.json()["limit"]["type"] == "monthly_audio_seconds"
    assert ok.json()["limit"]["limit"] == 7200 and ok.json()["limit"]["reset_at"]
    cases = [
        ("upload_file", {"bytes": 10**12}, "max_file_bytes"),
        ("upload_file", {"seconds": 4000}, "max_recording_seconds"),
        ("transcribe", {"seconds": 3000}, None),
        ("create_session", {}, None),
        ("export_transcript", {"format": "docx"}, "export_formats"),
        ("create_episode", {}, "episodes_enabled"),
    ]
    for action, params, refused_by in cases:
        body = validate(api, free, action, **params).json()
        assert body["allowed"] is (refused_by is None), (action, body)
        if refused_by:
            assert body["reason"] and body["limit"]["type"] == refused_by
    assert validate(api, pro, "create_episode").json()["allowed"] is True
    assert validate(api, pro, "export_transcript", format="docx").json()["allowed"] is True
    # a bad request is a 422, never an allowance
    for bad in ({"action": "delete_everything"}, {"action": "upload_file", "params": {"bytes": -1}},
                {"action": "upload_file", "params": {"megabytes": 1}}):
        r = api.client.post(VALIDATE, headers=free, json=bad)
        assert r.status_code == 422 and "allowed" not in r.json()
    assert api.client.post(VALIDATE, json={"action": "create_session"}).status_code == 401


def test_monthly_quota_counts_the_ledger(api: Api) -> None:
    admin = api.create_user("root@example.com", role="admin", plan="unlimited")
    alice = api.create_user("alice@example.com", plan="free")
    uid = me(api, alice)["id"]
    api.client.post(f"/api/v1/admin/users/{uid}/usage-adjustments", headers=admin,
                    json={"seconds": 7190, "note": "almost all"})
    assert validate(api, alice, "transcribe", seconds=10).json()["allowed"] is True
    body = validate(api, alice, "transcribe", seconds=11).json()
    assert body["allowed"] is False and "monthly minutes" in body["reason"]
    assert body["limit"]["current"] == 7190 and body["limit"]["limit"] == 7200


def test_plan_missing_from_the_catalogue_is_refused(api: Api) -> None:
    alice = api.create_user("alice@example.com", plan="free")
    with api.runtime.database.transaction() as db:
        db.execute(update(User).values(plan="legacy-gold"))
    for action in ("create_session", "upload_file", "transcribe", "export_transcript",
                   "create_episode"):
        r = validate(api, alice, action)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["allowed"] is False, body
        assert "legacy-gold" in body["reason"] and body["limit"]["type"] == "plan_missing"
    r = api.client.get("/api/v1/plan", headers=alice)
    assert r.status_code == 403 and r.json()["error"]["code"] == "quota_exceeded"


def _unreachable_url(dialect: str, tmp_path: Path) -> str:
    if dialect == "sqlite":
        return f"sqlite:///{tmp_path / 'no-such-dir' / 'gone.db'}"
    return "postgresql+psycopg://postgres@127.0.0.1:1/test"  # nothing listens on port 1


def test_unreachable_database_is_refused_never_allowed(dialect: str, db_url: str, tmp_path: Path,
                                                        make_api: Callable[..., Api]) -> None:
    api = make_api(db_url)
    alice = api.create_user("alice@example.com", plan="unlimited")
    good = api.runtime.database
    api.runtime.database = Database(_unreachable_url(dialect, tmp_path))
    try:
        for action in ("create_session", "upload_file", "transcribe", "export_transcript",
                       "create_episode"):
            r = validate(api, alice, action, seconds=1)
            assert r.status_code == 503, r.text
            body = r.json()
            assert body["allowed"] is False and "could not run" in body["reason"], body
            assert body["limit"]["type"] == "check_unavailable"
        # the service itself, past authentication, also fails closed
        with good.transaction(write=False) as db:
            uid = db.scalar(select(User.id))
        assert uid is not None
        decision, ran = plans_service.validate_action(api.runtime, uid, "upload_file", {"seconds": 1})
        assert not decision.allowed and not ran and "database" in (decision.reason or "")
    finally:
        api.runtime.database.dispose()
        api.runtime.database = good


def test_a_broken_check_is_refused(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    alice = api.create_user("alice@example.com", plan="unlimited")

    def boom(*_a: Any, **_k: Any) -> Any:
        raise ZeroDivisionError("bug in the check")

    monkeypatch.setattr("tapeworks.plans.enforcement.snapshot", boom)
    r = validate(api, alice, "create_session")
    assert r.status_code == 503 and r.json()["allowed"] is False


def test_admin_api(api: Api) -> None:
    admin = api.create_user("root@example.com", role="admin", plan="unlimited")
    alice = api.create_user("alice@example.com", plan="free")
    uid = me(api, alice)["id"]
    page = api.client.get("/api/v1/admin/users", headers=admin).json()
    assert page["total"] == 2 and {u["email"] for u in page["items"]} == {
        "root@example.com", "alice@example.com"}
    assert api.client.get("/api/v1/admin/users?q=alice", headers=admin).json()["total"] == 1
    r = api.client.patch(f"/api/v1/admin/users/{uid}", headers=admin, json={"plan": "pro"})
    assert r.status_code == 200 and r.json()["plan"] == "pro"
    assert api.client.get("/api/v1/plan", headers=alice).json()["plan"] == "pro"
    r = api.client.patch(f"/api/v1/admin/users/{uid}", headers=admin, json={"plan": "platinum"})
    assert r.status_code == 422 and "platinum" in r.json()["error"]["message"]
    # usage adjustments: append-only, idempotent with a key
    for _ in range(2):
        r = api.client.post(f"/api/v1/admin/users/{uid}/usage-adjustments",
                            headers={**admin, "Idempotency-Key": "ticket-42"},
                            json={"seconds": 120, "note": "support ticket 42"})
        assert r.status_code == 201 and r.json()["kind"] == "adjustment"
    api.client.post(f"/api/v1/admin/users/{uid}/usage-adjustments", headers=admin,
                    json={"seconds": -20, "note": "goodwill credit"})
    usage = api.client.get(f"/api/v1/admin/users/{uid}/usage", headers=admin).json()
    assert usage["total_entries"] == 2 and usage["usage"]["monthly_used_seconds"] == 100
    assert api.client.get("/api/v1/admin/plans", headers=admin).json()[0]["limits"]
    # roles: promote, and the last admin cannot demote themselves
    root_id = me(api, admin)["id"]
    r = api.client.patch(f"/api/v1/admin/users/{root_id}", headers=admin, json={"role": "user"})
    assert r.status_code == 409
    assert api.client.patch(f"/api/v1/admin/users/{uid}", headers=admin,
                            json={"role": "admin"}).json()["role"] == "admin"
    assert api.client.get("/api/v1/admin/users", headers=alice).status_code == 200
    assert api.client.get("/api/v1/admin/users/nope", headers=admin).status_code == 404


def test_normal_users_get_403_on_every_admin_route(api: Api) -> None:
    api.create_user("root@example.com", role="admin", plan="unlimited")
    alice = api.create_user("alice@example.com", plan="free")
    uid = me(api, alice)["id"]
    spec = api.client.get("/openapi.json").json()
    admin_routes = [(m, p) for p, ops in spec["paths"].items() for m in ops
                    if p.startswith("/api/v1/admin/")]
    assert len(admin_routes) >= 5
    for method, path in admin_routes:
        url = path.replace("{user_id}", uid)
        r = api.client.request(method.upper(), url, headers=alice,
                               json={"plan": "unlimited", "role": "admin", "seconds": -99999,
                                     "note": "x"})
        assert r.status_code == 403, (method, path, r.text)
        assert r.json()["error"]["code"] == "forbidden"
    with api.runtime.database.transaction(write=False) as db:
        assert db.scalar(select(User.plan).where(User.id == uid)) == "free"
        assert db.scalar(select(func.count()).select_from(UsageEntry)) == 0
