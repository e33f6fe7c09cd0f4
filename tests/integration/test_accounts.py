"""Account hygiene (issue 12): changing the password, the list of logins with their last
use, revoking one or all, the page cookie holding an opaque session id, a new sign-in in a
browser ending the previous one, the first-run setup link, private data dir and database."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import select, update

from tapeworks import cli
from tapeworks.config import Settings
from tapeworks.db.base import utcnow
from tapeworks.users import service as users
from tapeworks.users.models import ApiToken, SetupToken, User
from tests.conftest import Api

PASSWORD = "password123"
NEW = "a new passphrase"


def _login(client: TestClient, email: str = "alice@example.com", password: str = PASSWORD,
           ua: str = "pytest") -> dict[str, str]:
    r = client.post("/api/v1/auth/login", json={"email": email, "password": password},
                    headers={"User-Agent": ua})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def _status(api: Api, headers: dict[str, str]) -> int:
    return api.client.get("/api/v1/auth/me", headers=headers).status_code


def _personal(api: Api, headers: dict[str, str]) -> dict[str, str]:
    r = api.client.post("/api/v1/auth/tokens", headers=headers, json={"name": "script"})
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_change_password_ends_other_logins_and_keeps_tokens(api: Api) -> None:
    api.create_user("alice@example.com")
    here, elsewhere = _login(api.client), _login(api.client, ua="phone")
    token = _personal(api, here)
    r = api.client.post("/api/v1/auth/password", headers=here,
                        json={"current_password": PASSWORD, "new_password": NEW})
    assert r.status_code == 204, r.text
    assert _status(api, here) == 200  # this login stays
    assert _status(api, elsewhere) == 401  # every other one ends
    assert _status(api, token) == 200  # personal API tokens stay
    bad = api.client.post("/api/v1/auth/login", json={"email": "alice@example.com",
                                                      "password": PASSWORD})
    assert bad.status_code == 401
    _login(api.client, password=NEW)
    # with revoke_tokens the personal tokens go too
    r = api.client.post("/api/v1/auth/password", headers=here,
                        json={"current_password": NEW, "new_password": PASSWORD,
                              "revoke_tokens": True})
    assert r.status_code == 204
    assert _status(api, token) == 401 and _status(api, here) == 200


def test_a_wrong_current_password_is_400_and_throttled(make_api: Callable[..., Api],
                                                       db_url: str) -> None:
    api = make_api(db_url, login_max_failures_per_account=3)
    headers = api.create_user("alice@example.com")
    other = _login(api.client)
    for _ in range(3):
        r = api.client.post("/api/v1/auth/password", headers=headers,
                            json={"current_password": "guess", "new_password": NEW})
        assert r.status_code == 400, r.text
        assert r.json()["error"]["code"] == "wrong_password"
    r = api.client.post("/api/v1/auth/password", headers=headers,
                        json={"current_password": PASSWORD, "new_password": NEW})
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    assert _status(api, other) == 200  # nothing changed
    r = api.client.post("/api/v1/auth/password", headers=headers,
                        json={"current_password": PASSWORD, "new_password": "short"})
    assert r.status_code == 422  # typed at the edge, before any password check


def test_logins_are_listed_with_their_last_use_and_revocable(api: Api) -> None:
    api.create_user("alice@example.com")
    api.create_user("bob@example.com")
    here = _login(api.client, ua="laptop")
    phone = _login(api.client, ua="phone")
    bobs = _login(api.client, "bob@example.com")
    token = _personal(api, here)
    logins = api.client.get("/api/v1/auth/logins", headers=here).json()
    assert len(logins) == 3  # the fixture's login, laptop, phone; not the personal token
    mine = next(x for x in logins if x["current"])
    assert mine["user_agent"] == "laptop" and mine["address"] == "testclient"
    assert mine["kind"] == "api" and mine["last_used_at"] is not None
    assert sum(x["current"] for x in logins) == 1
    phone_id = next(x["id"] for x in logins if x["user_agent"] == "phone")
    # another user's login is a 404, and stays live
    bob_logins = api.client.get("/api/v1/auth/logins", headers=bobs).json()
    assert api.client.delete(f"/api/v1/auth/logins/{bob_logins[0]['id']}",
                             headers=here).status_code == 404
    assert _status(api, bobs) == 200
    assert api.client.delete(f"/api/v1/auth/logins/{phone_id}", headers=here).status_code == 204
    assert _status(api, phone) == 401 and _status(api, here) == 200
    assert phone_id not in [x["id"] for x in api.client.get("/api/v1/auth/logins", headers=here).json()]
    # a personal token is not a login
    tokens = api.client.get("/api/v1/auth/tokens", headers=here).json()
    assert api.client.delete(f"/api/v1/auth/logins/{tokens[0]['id']}", headers=here).status_code == 404
    # sign out everywhere: every login ends, this one included; tokens stay
    assert api.client.post("/api/v1/auth/logins/revoke-all", headers=here).status_code == 204
    assert _status(api, here) == 401
    assert _status(api, token) == 200
    assert _status(api, bobs) == 200


def test_last_used_is_written_at_most_once_a_minute(api: Api) -> None:
    headers = api.create_user("alice@example.com")

    def last_used() -> object:
        with api.runtime.database.transaction(write=False) as db:
            return db.scalar(select(ApiToken.last_used_at).where(ApiToken.kind == "access"))

    assert _status(api, headers) == 200
    first = last_used()
    assert first is not None
    for _ in range(3):
        assert _status(api, headers) == 200
    assert last_used() == first
    with api.runtime.database.transaction() as db:
        db.execute(update(ApiToken).values(last_used_at=utcnow() - timedelta(seconds=61)))
    before = last_used()
    assert _status(api, headers) == 200
    assert last_used() > before  # type: ignore[operator]


def _page_sign_in(client: TestClient, email: str) -> None:
    form = client.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert csrf is not None, form.text[:500]
    r = client.post("/login", data={"email": email, "password": PASSWORD, "next": "/",
                                    "csrf_token": csrf.group(1)}, follow_redirects=False)
    assert r.status_code == 303 and "tw_session" in r.headers["set-cookie"], r.text


def _cookie_value(api: Api, client: TestClient) -> str:
    raw = client.cookies["tw_session"]
    value = URLSafeTimedSerializer(api.runtime.settings.resolved_secret_key(),
                                   salt="tapeworks.web.session").loads(raw)
    return str(value)


def test_the_cookie_holds_an_opaque_session_id_not_a_bearer_token(api: Api) -> None:
    api.create_user("alice@example.com")
    browser = TestClient(api.client.app, raise_server_exceptions=False)
    _page_sign_in(browser, "alice@example.com")
    value = _cookie_value(api, browser)
    assert value.startswith("tws_")
    assert browser.get("/api/v1/auth/me").status_code == 200  # the pages' JavaScript
    r = api.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {value}"})
    assert r.status_code == 401 and "page sign-in" in r.json()["error"]["message"]
    # and a bearer token put in a signed cookie does not open pages
    bearer = _login(api.client)["Authorization"].split()[1]
    forged = TestClient(api.client.app, raise_server_exceptions=False)
    forged.cookies.set("tw_session", URLSafeTimedSerializer(
        api.runtime.settings.resolved_secret_key(), salt="tapeworks.web.session").dumps(bearer))
    assert forged.get("/api/v1/auth/me").status_code == 401
    assert forged.get("/account", follow_redirects=False).status_code in (302, 303, 307)
    logins = browser.get("/api/v1/auth/logins").json()
    page = next(x for x in logins if x["current"])
    assert page["kind"] == "page"


def test_signing_in_as_someone_else_ends_the_previous_sign_in(api: Api) -> None:
    api.create_user("alice@example.com")
    api.create_user("bob@example.com")
    browser = TestClient(api.client.app, raise_server_exceptions=False)
    _page_sign_in(browser, "alice@example.com")
    old = browser.cookies["tw_session"]
    _page_sign_in(browser, "bob@example.com")
    assert browser.get("/api/v1/auth/me").json()["email"] == "bob@example.com"
    stale = TestClient(api.client.app, raise_server_exceptions=False)
    stale.cookies.set("tw_session", old)
    assert stale.get("/api/v1/auth/me").status_code == 401


def test_page_change_password_and_sign_out_everywhere(api: Api) -> None:
    api.create_user("alice@example.com")
    elsewhere = _login(api.client, ua="phone")
    browser = TestClient(api.client.app, raise_server_exceptions=False)
    _page_sign_in(browser, "alice@example.com")
    account = browser.get("/account")
    assert "Where you are signed in" in account.text and "phone" in account.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', account.text)
    assert csrf is not None
    wrong = browser.post("/account/password", data={
        "current_password": "guess", "new_password": NEW, "new_password_again": NEW,
        "csrf_token": csrf.group(1)})
    assert "The current password is not right" in wrong.text
    assert _status(api, elsewhere) == 200
    done = browser.post("/account/password", data={
        "current_password": PASSWORD, "new_password": NEW, "new_password_again": NEW,
        "csrf_token": csrf.group(1)})
    assert "Your password was changed" in done.text
    assert _status(api, elsewhere) == 401
    assert browser.get("/api/v1/auth/me").status_code == 200  # this browser stays
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', browser.get("/account").text)
    assert csrf is not None
    r = browser.post("/account/logins/revoke-all", data={"csrf_token": csrf.group(1)},
                     follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert browser.get("/api/v1/auth/me").status_code == 401


def test_setup_needs_the_one_time_link(api: Api, capsys: object) -> None:
    browser = TestClient(api.client.app, raise_server_exceptions=False)
    closed = browser.get("/setup")
    assert closed.status_code == 403 and "setup link" in closed.text
    assert browser.get("/setup?token=guess").status_code == 403
    # what `serve` does with no admin configured: prints the link (the token stored hashed)
    cli._first_admin(api.runtime)
    out = capsys.readouterr().err  # type: ignore[attr-defined]  (the console writes to stderr)
    m = re.search(r"/setup\?token=([\w-]+)", out)
    assert m, out
    token = m.group(1)
    with api.runtime.database.transaction(write=False) as db:
        assert db.scalar(select(SetupToken.token_hash)) == users.hash_token(token)
    form = browser.get(f"/setup?token={token}")
    assert form.status_code == 200
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert csrf is not None
    data = {"email": "admin@example.com", "password": PASSWORD, "password_again": PASSWORD,
            "csrf_token": csrf.group(1)}
    refused = browser.post("/setup", data={**data, "token": "guess"}, follow_redirects=False)
    assert refused.status_code == 403
    with api.runtime.database.transaction(write=False) as db:
        assert users.count_users(db) == 0
    made = browser.post("/setup", data={**data, "token": token}, follow_redirects=False)
    assert made.status_code == 303, made.text
    with api.runtime.database.transaction(write=False) as db:
        admin = db.scalar(select(User))
        assert admin is not None and admin.role == "admin"
        assert db.scalar(select(SetupToken.id)) is None  # spent
    assert browser.get("/api/v1/auth/me").json()["email"] == "admin@example.com"


def test_cli_set_password_signs_the_user_out_everywhere(api: Api, tmp_path: Path) -> None:
    headers = api.create_user("alice@example.com")
    token = _personal(api, headers)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAPEWORKS_")}
    env.update({"TAPEWORKS_DATA_DIR": str(api.runtime.settings.data_dir),
                "TAPEWORKS_DATABASE_URL": api.runtime.settings.effective_database_url,
                "TAPEWORKS_LOG_LEVEL": "WARNING"})
    tapeworks = str(Path(sys.executable).with_name("tapeworks"))
    r = subprocess.run([tapeworks, "users", "set-password", "--email", "alice@example.com",
                        "--password", NEW], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "signed out" in r.stdout
    assert _status(api, headers) == 401 and _status(api, token) == 401
    _login(api.client, password=NEW)


def test_data_dir_and_database_are_private_when_the_app_creates_them(tmp_path: Path) -> None:
    settings = Settings(environment="test", data_dir=tmp_path / "fresh" / "data",
                        secret_key="x" * 40)
    settings.ensure_dirs()
    for d in (settings.data_dir, settings.scratch_dir, settings.models_dir):
        assert stat.S_IMODE(d.stat().st_mode) == 0o700, d
    assert stat.S_IMODE(settings.sqlite_path.stat().st_mode) == 0o600
    from tapeworks.db import migrate

    migrate.upgrade(settings.effective_database_url)  # SQLite writes into the file we made
    assert stat.S_IMODE(settings.sqlite_path.stat().st_mode) == 0o600
    assert settings.sqlite_path.stat().st_size > 0
    # an existing directory keeps the mode its operator gave it
    mine = tmp_path / "mine"
    mine.mkdir(mode=0o750)
    mine.chmod(0o750)
    Settings(environment="test", data_dir=mine, secret_key="x" * 40).ensure_dirs()
    assert stat.S_IMODE(mine.stat().st_mode) == 0o750
