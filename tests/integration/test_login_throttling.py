"""Sign-in throttling (issue 12): per (account, address) and per address, 429 with
`Retry-After`, on the API and the page form, on SQLite and PostgreSQL. The clock is the
runtime's, injected here; the limits are settings."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from tapeworks.users import service as users
from tests.conftest import Api

RIGHT = "password123"
T0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def _setup(make_api: Callable[..., Api], db_url: str, **limits: object) -> tuple[Api, Clock]:
    api = make_api(db_url, **limits)
    clock = Clock()
    api.runtime.clock = clock
    with api.runtime.database.transaction() as db:
        for email in ("alice@example.com", "bob@example.com", "carol@example.com"):
            users.create_user(db, email=email, password=RIGHT)
    return api, clock


def _login(client: TestClient, email: str, password: str):  # type: ignore[no-untyped-def]
    return client.post("/api/v1/auth/login", json={"email": email, "password": password})


def _from(api: Api, address: str) -> TestClient:
    client = TestClient(api.client.app, client=(address, 40000), raise_server_exceptions=False)
    return client


def test_twenty_wrong_passwords_then_429_until_the_window_passes(
        make_api: Callable[..., Api], db_url: str) -> None:
    api, clock = _setup(make_api, db_url)  # defaults: 10 per account and address, 15 minutes
    codes = []
    for _ in range(20):
        codes.append(_login(api.client, "alice@example.com", "wrong-password").status_code)
        clock.advance(1)
    assert codes == [401] * 10 + [429] * 10
    r = _login(api.client, "alice@example.com", "wrong-password")
    assert r.status_code == 429
    body = r.json()["error"]
    assert body["code"] == "too_many_attempts"
    assert "try again in" in body["message"]
    # the first failure (at T0) leaves the 15-minute window 900 s after it; now is T0 + 20 s
    assert int(r.headers["retry-after"]) == 900 - 20
    # the right password is refused too while the account is locked from this address
    assert _login(api.client, "alice@example.com", RIGHT).status_code == 429
    # ... and works once enough failures have left the window
    clock.advance(int(r.headers["retry-after"]))
    ok = _login(api.client, "alice@example.com", RIGHT)
    assert ok.status_code == 200, ok.text
    # a success clears that account's failures from that address: a typo is a 401 again
    assert _login(api.client, "alice@example.com", "wrong-password").status_code == 401


def test_nobody_locks_a_victim_out_from_elsewhere(make_api: Callable[..., Api], db_url: str) -> None:
    api, _clock = _setup(make_api, db_url, login_max_failures_per_account=3)
    attacker, victim = _from(api, "203.0.113.66"), _from(api, "198.51.100.7")
    for _ in range(3):
        assert _login(attacker, "alice@example.com", "guess").status_code == 401
    assert _login(attacker, "alice@example.com", RIGHT).status_code == 429
    assert _login(victim, "alice@example.com", RIGHT).status_code == 200


def test_another_account_from_the_same_address_is_throttled_by_the_address_rule(
        make_api: Callable[..., Api], db_url: str) -> None:
    api, _clock = _setup(make_api, db_url, login_max_failures_per_account=10,
                         login_max_failures_per_address=12)
    spray = _from(api, "203.0.113.9")
    for i in range(12):  # under the per-account limit on each account, at the address's limit
        email = ("alice@example.com", "bob@example.com", f"nobody{i}@example.com")[i % 3]
        assert _login(spray, email, "guess").status_code == 401
    r = _login(spray, "carol@example.com", RIGHT)  # never tried, the right password
    assert r.status_code == 429
    assert r.json()["error"]["code"] == "too_many_attempts"
    assert int(r.headers["retry-after"]) > 0
    # other addresses are not affected
    assert _login(_from(api, "198.51.100.20"), "carol@example.com", RIGHT).status_code == 200


def test_the_page_form_is_throttled_too_and_the_owner_is_told(
        make_api: Callable[..., Api], db_url: str) -> None:
    api, clock = _setup(make_api, db_url, login_max_failures_per_account=3)
    page = _from(api, "203.0.113.30")
    form = page.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert csrf is not None

    def submit(password: str):  # type: ignore[no-untyped-def]
        return page.post("/login", data={"email": "alice@example.com", "password": password,
                                          "next": "/", "csrf_token": csrf.group(1)},
                         follow_redirects=False)

    for _ in range(3):
        assert submit("guess").status_code == 303  # back to the form with its error
    r = submit(RIGHT)
    assert r.status_code == 429
    assert int(r.headers["retry-after"]) > 0
    assert "Too many failed sign-in attempts" in r.text
    assert "tw_session" not in r.headers.get("set-cookie", "")
    # the API from the same address is under the same rule
    assert _login(page, "alice@example.com", RIGHT).status_code == 429

    clock.advance(api.runtime.settings.login_window_seconds)
    r = submit(RIGHT)
    assert r.status_code == 303 and "tw_session" in r.headers["set-cookie"]
    account = page.get("/account")
    assert account.status_code == 200
    assert "3 failed sign-in attempts on your account" in account.text
    assert "203.0.113.30" in account.text
    me = page.get("/api/v1/auth/me").json()
    assert me["failed_logins"] == 3
    csrf2 = re.search(r'name="csrf_token" value="([^"]+)"', account.text)
    assert csrf2 is not None
    page.post("/account/failed-logins/dismiss", data={"csrf_token": csrf2.group(1)})
    assert "failed sign-in attempt" not in page.get("/account").text


def test_failures_are_kept_for_the_window_only(make_api: Callable[..., Api], db_url: str) -> None:
    from sqlalchemy import func, select

    from tapeworks.users.models import LoginFailure

    api, clock = _setup(make_api, db_url)
    for _ in range(5):
        _login(api.client, "nobody@example.com", "guess")
    clock.advance(api.runtime.settings.login_window_seconds + 1)
    _login(api.client, "nobody@example.com", "guess")
    with api.runtime.database.transaction(write=False) as db:
        assert db.scalar(select(func.count()).select_from(LoginFailure)) == 1


def test_concurrent_guesses_cannot_pass_the_limit_together(make_api: Callable[..., Api],
                                                           db_url: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    api, _clock = _setup(make_api, db_url, login_max_failures_per_account=5)
    with ThreadPoolExecutor(max_workers=10) as pool:
        codes = sorted(pool.map(lambda _: _login(api.client, "alice@example.com", "guess").status_code,
                                range(20)))
    assert codes == [401] * 5 + [429] * 15
