"""Accounts and tokens, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from tapeworks.db.base import utcnow
from tapeworks.users import service as users
from tapeworks.users.models import ApiToken
from tests.conftest import Api


def _message(resp) -> str:  # type: ignore[no-untyped-def]
    assert resp.status_code == 401, resp.text
    return str(resp.json()["error"]["message"])


def test_login_and_me(api: Api, alice: dict[str, str]) -> None:
    me = api.client.get("/api/v1/auth/me", headers=alice).json()
    assert me["email"] == "alice@example.com"
    assert me["role"] == "user"
    assert "password" not in str(me).lower()


def test_wrong_password_and_unknown_user_are_401(api: Api, alice: dict[str, str]) -> None:
    for body in ({"email": "alice@example.com", "password": "wrong-password"},
                 {"email": "nobody@example.com", "password": "password123"}):
        r = api.client.post("/api/v1/auth/login", json=body)
        assert _message(r) == "incorrect email or password"


def test_no_token(api: Api) -> None:
    assert "authentication required" in _message(api.client.get("/api/v1/auth/me"))


def test_wrong_token(api: Api) -> None:
    r = api.client.get("/api/v1/auth/me", headers={"Authorization": "Bearer tw_nope"})
    assert "not valid" in _message(r)


def test_malformed_header(api: Api) -> None:
    r = api.client.get("/api/v1/auth/me", headers={"Authorization": "Basic abc"})
    assert "Bearer" in _message(r)


def test_expired_token(api: Api, alice: dict[str, str]) -> None:
    with api.runtime.database.transaction() as db:
        db.execute(update(ApiToken).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert "expired" in _message(api.client.get("/api/v1/auth/me", headers=alice))


def test_deleted_users_token(api: Api, alice: dict[str, str]) -> None:
    with api.runtime.database.transaction() as db:
        users.delete_user(db, users.get_user_by_email(db, "alice@example.com").id)
    assert "not valid" in _message(api.client.get("/api/v1/auth/me", headers=alice))


def test_personal_tokens_create_list_use_revoke(api: Api, alice: dict[str, str]) -> None:
    r = api.client.post("/api/v1/auth/tokens", json={"name": "laptop"}, headers=alice)
    assert r.status_code == 201
    token = r.json()
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    assert api.client.get("/api/v1/auth/me", headers=bearer).status_code == 200
    listed = api.client.get("/api/v1/auth/tokens", headers=alice).json()
    assert [t["name"] for t in listed] == ["laptop"]
    assert "access_token" not in listed[0]
    with api.runtime.database.transaction() as db:
        stored = db.get(ApiToken, token["id"])
        assert stored is not None and stored.token_hash != token["access_token"]
    assert api.client.delete(f"/api/v1/auth/tokens/{token['id']}", headers=alice).status_code == 204
    assert "revoked" in _message(api.client.get("/api/v1/auth/me", headers=bearer))


def test_cannot_revoke_another_users_token(api: Api, alice: dict[str, str], bob: dict[str, str]) -> None:
    tid = api.client.post("/api/v1/auth/tokens", json={}, headers=alice).json()["id"]
    assert api.client.delete(f"/api/v1/auth/tokens/{tid}", headers=bob).status_code == 404


def test_passwords_are_never_logged_or_returned(api: Api, capfd) -> None:  # type: ignore[no-untyped-def]
    secret = "correct-horse-battery"
    api.create_user("carol@example.com", password=secret)
    api.client.post("/api/v1/auth/login", json={"email": "carol@example.com", "password": "x" + secret})
    r = api.client.post("/api/v1/auth/login", json={"email": "carol@example.com", "password": secret})
    assert secret not in r.text
    out = capfd.readouterr()
    assert secret not in out.err and secret not in out.out
    with api.runtime.database.transaction() as db:
        user = users.get_user_by_email(db, "carol@example.com")
        assert secret not in user.password_hash and user.password_hash.startswith("$argon2")
