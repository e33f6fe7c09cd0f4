"""Only administrators change plans or usage: a normal user calling every route of the app
(API and pages, with plausible bodies) never changes any user's plan or role, nor the ledger."""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from sqlalchemy import func, select
from starlette.routing import Route

from tapeworks.plans.models import UsageEntry
from tapeworks.users import service as users
from tapeworks.users.models import User
from tests.conftest import Api

PLAUSIBLE: dict[str, Any] = {
    "plan": "unlimited", "role": "admin", "is_active": True, "seconds": 99999.0,
    "audio_seconds": 99999.0, "note": "free minutes please", "kind": "adjustment",
    "monthly_audio_seconds": None, "action": "upload_file",
    "params": {"bytes": 1, "seconds": 1}, "email": "alice@example.com",
    "password": "password123", "name": "alice", "title": "t",
}


def all_routes(app: FastAPI, spec: dict[str, Any]) -> set[tuple[str, str]]:
    """Every (method, path): the OpenAPI document, plus the routes hidden from it (pages)."""
    found = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops
             if m in ("get", "post", "put", "patch", "delete")}

    def walk(routes: Any, prefix: str = "") -> None:
        for r in routes:
            contexts = getattr(r, "effective_route_contexts", None)  # FastAPI >= 0.16x
            if contexts is not None:
                for c in (contexts() if callable(contexts) else contexts):
                    path = getattr(c, "path", None) or getattr(c, "path_format", None)
                    for m in getattr(c, "methods", None) or ():
                        if path:
                            found.add((m, path))
            elif isinstance(r, Route):
                for m in r.methods or ():
                    found.add((m, prefix + r.path))
            elif hasattr(r, "routes") and hasattr(r, "path"):
                walk(r.routes, prefix + r.path)

    walk(app.routes)
    return {(m, p) for m, p in found if m not in ("HEAD", "OPTIONS")}


def _state(api: Api) -> tuple[list[tuple[str, str, str, bool]], int, float]:
    with api.runtime.database.transaction(write=False) as db:
        users = [(u.email, u.plan, u.role, u.is_active)
                 for u in db.scalars(select(User).order_by(User.email))]
        n = int(db.scalar(select(func.count()).select_from(UsageEntry)) or 0)
        total = float(db.scalar(select(func.coalesce(func.sum(UsageEntry.audio_seconds), 0.0))) or 0)
    return users, n, total


def test_no_route_lets_a_normal_user_change_plans_or_usage(api: Api, tmp_path: Any) -> None:
    from tests.helpers import audio

    api.create_user("root@example.com", role="admin", plan="unlimited")
    alice = api.create_user("alice@example.com", plan="free")
    ids = {"user_id": [], "session_id": [], "token_id": []}  # type: dict[str, list[str]]
    ids["user_id"] = [u["id"] for u in [api.client.get("/api/v1/auth/me", headers=alice).json()]]
    with api.runtime.database.transaction(write=False) as db:
        ids["user_id"] += [str(i) for i in db.scalars(select(User.id).where(User.role == "admin"))]
    tone = audio.write_tone(tmp_path / "t.wav", seconds=1.0)
    with open(tone, "rb") as fh:
        r = api.client.post("/api/v1/sessions", headers=alice, files={"file": ("t.wav", fh)})
    assert r.status_code == 201, r.text
    ids["session_id"] = [r.json()["id"]]
    before = _state(api)

    def fresh_token() -> dict[str, str]:  # a route may revoke the token it was called with
        with api.runtime.database.transaction() as db:
            user = users.get_user_by_email(db, "alice@example.com")
            _, plain = users.issue_token(db, user, kind="personal", name="sweep")
        return {"Authorization": f"Bearer {plain}"}

    spec = api.client.get("/openapi.json").json()
    routes = all_routes(api.client.app, spec)  # type: ignore[arg-type]
    assert ("PATCH", "/api/v1/admin/users/{user_id}") in routes
    calls = 0
    for method, template in sorted(routes):
        names = re.findall(r"{(\w+)(?::\w+)?}", template)
        combos: list[dict[str, str]] = [{}]
        for n in names:
            combos = [{**c, n: v} for c in combos for v in (ids.get(n) or ["x1"])]
        for combo in combos:
            path = template
            for n, v in combo.items():
                path = re.sub("{" + n + r"(?::\w+)?}", v, path)
            for body in ({"json": PLAUSIBLE}, {"data": {k: str(v) for k, v in PLAUSIBLE.items()}}):
                resp = api.client.request(method, path, headers=fresh_token(), **body)
                calls += 1
                if path.startswith("/api/v1/admin"):
                    assert resp.status_code == 403, (method, path, resp.status_code)
    assert calls > 40
    after = _state(api)
    assert after == before, "a normal user changed a plan, a role or the usage ledger"
    assert after[0] == [("alice@example.com", "free", "user", True),
                        ("root@example.com", "unlimited", "admin", True)]
