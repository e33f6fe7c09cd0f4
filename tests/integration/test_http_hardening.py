"""What every response carries and what every request may send (issue 12): security headers
on pages, JSON, audio, static files and errors; no server banner; a body limit everywhere but
uploads; /metrics and the details of /readyz only for their tokens; forwarded headers only
from trusted proxies."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Api, LiveServer
from tests.helpers import audio
from tests.helpers.api import add_user, login, upload_ok

ORIGIN = "https://app.example.com"


def assert_hardened(resp: httpx.Response, what: str) -> None:
    h = resp.headers
    csp = h.get("content-security-policy", "")
    directives = {d.split()[0]: d.split()[1:] for d in csp.split(";") if d.strip()}
    assert "script-src" in directives, (what, csp)
    assert "'unsafe-inline'" not in directives["script-src"], (what, csp)
    assert "'unsafe-eval'" not in directives["script-src"], (what, csp)
    assert directives.get("frame-ancestors") == ["'none'"], (what, csp)
    assert h.get("x-content-type-options") == "nosniff", what
    assert h.get("referrer-policy") == "same-origin", what
    assert h.get("x-frame-options") == "DENY", what
    assert "server" not in h, (what, h.get("server"))


@pytest.fixture
def served(live_server: Callable[..., LiveServer], fresh_db_url: Callable[[str], str]
           ) -> LiveServer:
    return live_server(fresh_db_url("sqlite"), workers=0)


def test_every_kind_of_response_is_hardened_through_uvicorn(served: LiveServer,
                                                            tmp_path: Path) -> None:
    add_user(served.runtime, "h@example.com")
    headers = login(served.client, "h@example.com")
    sid = upload_ok(served.client, headers, audio.write_tone(tmp_path / "t.wav", seconds=1.0,
                                                             fmt="wav"))
    c = served.client
    cases = {
        "page": c.get("/login"),
        "json": c.get("/api/v1/auth/me", headers=headers),
        "json error": c.get("/api/v1/auth/me"),
        "no route": c.get("/api/v1/nowhere"),
        "audio": c.get(f"/api/v1/sessions/{sid}/audio", headers=headers),
        "audio range": c.get(f"/api/v1/sessions/{sid}/audio",
                             headers={**headers, "Range": "bytes=0-9"}),
        "static": c.get("/static/app.js"),
        "health": c.get("/healthz"),
        "openapi": c.get("/openapi.json"),
        "preflight": c.options("/api/v1/auth/me", headers={
            "Origin": ORIGIN, "Access-Control-Request-Method": "GET"}),
        "redirect": c.get("/", follow_redirects=False),
    }
    assert cases["audio"].headers["content-type"] == "audio/wav"
    assert cases["audio range"].status_code == 206
    assert cases["static"].status_code == 200
    for what, resp in cases.items():
        assert_hardened(resp, what)


def test_the_api_docs_allow_only_their_own_script(api: Api) -> None:
    import base64
    import hashlib
    import re

    r = api.client.get("/docs")
    assert r.status_code == 200
    assert_hardened(r, "docs")
    csp = r.headers["content-security-policy"]
    inline = re.findall(r"<script>(.*?)</script>", r.text, flags=re.DOTALL)
    assert inline, "the docs page has its configuration script"
    for script in inline:
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp
    assert "'unsafe-inline'" not in csp.split("script-src", 1)[1].split(";", 1)[0]


# --- request bodies ----------------------------------------------------------------------------
def _chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    yield b'{"email": "a@example.com", "password": "'
    sent = 0
    while sent < total:
        yield b"x" * size
        sent += size
    yield b'"}'


def test_json_bodies_are_limited_before_they_are_read(api: Api) -> None:
    big = b'{"email": "a@example.com", "password": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    r = api.client.post("/api/v1/auth/login", content=big,
                        headers={"content-type": "application/json"})
    assert r.status_code == 413, r.text
    err = r.json()["error"]
    assert err["code"] == "request_too_large" and "1048576 bytes" in err["message"]
    assert err["request_id"] == r.headers["x-request-id"]
    # a streamed body without a length is cut off as it passes the limit
    r = api.client.post("/api/v1/auth/login", content=_chunks(50 * 1024 * 1024),
                        headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "request_too_large"
    # the page form the same
    r = api.client.post("/login", content=b"email=a&password=" + b"x" * (2 * 1024 * 1024),
                        headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 413
    # and a body under the limit is still read
    r = api.client.post("/api/v1/auth/login", json={"email": "a@example.com", "password": "y"})
    assert r.status_code == 401


def test_uploads_keep_their_own_limit(make_api: Callable[..., Api], db_url: str,
                                      tmp_path: Path) -> None:
    api = make_api(db_url, max_body_bytes=64 * 1024)
    headers = api.create_user("up@example.com", plan="pro")
    wav = audio.write_tone(tmp_path / "long.wav", seconds=6.0, sr=44100, channels=2, fmt="wav")
    assert wav.stat().st_size > 64 * 1024
    upload_ok(api.client, headers, wav)
    with open(wav, "rb") as fh:
        r = api.client.post("/api/v1/assets", headers=headers, data={"kind": "music"},
                            files={"file": ("m.wav", fh, "audio/wav")})
    assert r.status_code == 201, r.text
    r = api.client.post("/api/v1/templates", headers=headers,
                        json={"name": "x" * 100, "settings": {"music_gain_db": -12.0},
                              "pad": "y" * 70 * 1024})
    assert r.status_code == 413


# --- operational endpoints ---------------------------------------------------------------------
def test_metrics_are_not_served_without_their_token(make_api: Callable[..., Api],
                                                    db_url: str) -> None:
    closed = make_api(db_url)
    r = closed.client.get("/metrics")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    assert "tapeworks_http" not in r.text

    guarded = make_api(db_url, metrics_token="m" * 40)
    assert guarded.client.get("/metrics").status_code == 404
    assert guarded.client.get("/metrics", headers={"Authorization": "Bearer wrong"}
                              ).status_code == 404
    admin = guarded.create_user("admin@example.com", role="admin")
    assert guarded.client.get("/metrics", headers=admin).status_code == 404
    r = guarded.client.get("/metrics", headers={"Authorization": "Bearer " + "m" * 40})
    assert r.status_code == 200 and "tapeworks_http_requests_total" in r.text

    public = make_api(db_url, metrics_public=True)
    r = public.client.get("/metrics")
    assert r.status_code == 200 and "tapeworks_http_requests_total" in r.text


def test_readyz_says_only_ready_to_anyone_else(make_api: Callable[..., Api], db_url: str) -> None:
    api = make_api(db_url, metrics_token="t" * 40)
    user = api.create_user("someone@example.com")
    admin = api.create_user("root@example.com", role="admin")
    data_dir = str(api.runtime.settings.data_dir)
    for headers in ({}, user, {"Authorization": "Bearer tw_not_a_token"}):
        r = api.client.get("/readyz", headers=headers)
        assert r.status_code == 200 and r.json() == {"ready": True}, r.text
    for headers in (admin, {"Authorization": "Bearer " + "t" * 40}):
        r = api.client.get("/readyz", headers=headers)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["ready"] is True and set(body["checks"]) == {"database", "store", "queue"}
        assert data_dir not in r.text


def test_readyz_when_not_ready_still_says_nothing_more(make_api: Callable[..., Api],
                                                       db_url: str, tmp_path: Path) -> None:
    api = make_api(db_url)
    store_root = Path(api.runtime.store.url.removeprefix("file://"))
    store_root.rename(tmp_path / "moved-away")
    r = api.client.get("/readyz")
    assert r.status_code == 503 and r.json() == {"ready": False}


# --- forwarded headers -------------------------------------------------------------------------
def _sign_in_cookie(srv: LiveServer, **headers: str) -> str:
    page = httpx.get(f"{srv.url}/login", headers=headers)
    csrf = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    pre = page.headers["set-cookie"].split(";", 1)[0].split("=", 1)  # Secure or not: sent
    r = httpx.post(f"{srv.url}/login", headers={**headers, "Cookie": f"{pre[0]}={pre[1]}"},
                   data={"email": "p@example.com", "password": "password123",
                         "csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303, r.text
    return r.headers["set-cookie"]


def test_forwarded_proto_is_believed_only_from_trusted_proxies(
    live_server: Callable[..., LiveServer], fresh_db_url: Callable[[str], str]
) -> None:
    url = fresh_db_url("sqlite")
    untrusted = live_server(url, workers=0)
    add_user(untrusted.runtime, "p@example.com")
    cookie = _sign_in_cookie(untrusted, **{"X-Forwarded-Proto": "https"})
    assert "secure" not in cookie.lower(), cookie  # any client's header is ignored
    r = httpx.get(f"{untrusted.url}/healthz", headers={"X-Forwarded-Proto": "https"})
    assert "strict-transport-security" not in r.headers

    trusted = live_server(url, workers=0, trusted_proxies="127.0.0.1")
    cookie = _sign_in_cookie(trusted, **{"X-Forwarded-Proto": "https"})
    assert "secure" in cookie.lower(), cookie
    r = httpx.get(f"{trusted.url}/healthz", headers={"X-Forwarded-Proto": "https"})
    assert r.headers.get("strict-transport-security")


def test_trusted_proxies_must_be_addresses() -> None:
    from pydantic import ValidationError

    from tapeworks.config import Settings

    with pytest.raises(ValidationError, match="not an IP address"):
        Settings(trusted_proxies="proxy.example.com")
    assert Settings(trusted_proxies="10.0.0.0/8, 127.0.0.1").trusted_proxies == [
        "10.0.0.0/8", "127.0.0.1"]
