"""Rule 3: errors are JSON with a request id, and CORS headers are on them too."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi import APIRouter

from tests.conftest import Api

ORIGIN = "https://app.example.com"


@pytest.fixture
def boom_api(api: Api) -> Api:
    router = APIRouter()

    @router.get("/api/v1/_test/boom")
    def boom() -> None:
        raise RuntimeError("kaboom secret detail")

    api.client.app.include_router(router)  # type: ignore[attr-defined]
    return api


def _cases(api: Api, headers: dict[str, str]) -> dict[int, object]:
    c = api.client
    return {
        200: c.get("/api/v1/auth/me", headers={**headers, "Origin": ORIGIN}),
        401: c.get("/api/v1/auth/me", headers={"Origin": ORIGIN}),
        404: c.get("/api/v1/nowhere", headers={"Origin": ORIGIN}),
        422: c.post("/api/v1/auth/login", json={"email": 5}, headers={"Origin": ORIGIN}),
        500: c.get("/api/v1/_test/boom", headers={"Origin": ORIGIN}),
    }


def test_every_status_carries_cors_headers_for_allowed_origin(boom_api: Api, alice) -> None:  # type: ignore[no-untyped-def]
    for status, resp in _cases(boom_api, alice).items():
        assert resp.status_code == status, (status, resp.text)  # type: ignore[attr-defined]
        assert resp.headers.get("access-control-allow-origin") == ORIGIN, status  # type: ignore[attr-defined]


def test_errors_have_one_json_shape_with_request_id(boom_api: Api, alice) -> None:  # type: ignore[no-untyped-def]
    for status, resp in _cases(boom_api, alice).items():
        if status == 200:
            continue
        body = resp.json()  # type: ignore[attr-defined]
        assert set(body) == {"error"}
        err = body["error"]
        assert err["code"] and err["message"] and err["request_id"]
        assert resp.headers["x-request-id"] == err["request_id"]  # type: ignore[attr-defined]


def test_unexpected_error_is_500_without_internal_details(boom_api: Api) -> None:
    r = boom_api.client.get("/api/v1/_test/boom")
    assert r.status_code == 500
    assert r.json()["error"]["code"] == "internal_error"
    assert "kaboom" not in r.text


def test_unexpected_error_is_logged_with_its_request_id(boom_api: Api, capfd) -> None:  # type: ignore[no-untyped-def]
    r = boom_api.client.get("/api/v1/_test/boom")
    rid = r.json()["error"]["request_id"]
    err = capfd.readouterr().err
    lines = [line for line in err.splitlines() if "http.unhandled_error" in line]
    assert lines and rid in lines[-1]


def test_validation_errors_are_readable(api: Api) -> None:
    r = api.client.post("/api/v1/auth/login", json={"email": "a@b.c"})
    assert r.status_code == 422
    assert r.json()["error"]["message"] == "password: Field required"


def test_preflight_for_allowed_origin(api: Api) -> None:
    r = api.client.options("/api/v1/auth/me", headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization",
    })
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == ORIGIN
    assert "authorization" in r.headers["access-control-allow-headers"].lower()


def test_disallowed_origin_gets_no_cors_header(boom_api: Api) -> None:
    for path in ("/healthz", "/api/v1/auth/me", "/api/v1/_test/boom"):
        r = boom_api.client.get(path, headers={"Origin": "https://evil.example.net"})
        assert "access-control-allow-origin" not in r.headers


def test_health_ready_metrics(db_url: str, make_api: Callable[..., Api]) -> None:
    api = make_api(db_url, metrics_token="scrape-" + "x" * 32)
    scraper = {"Authorization": "Bearer scrape-" + "x" * 32}
    assert api.client.get("/healthz").json()["status"] == "ok"
    r = api.client.get("/readyz", headers=scraper)
    assert r.status_code == 200, r.text
    assert r.json()["checks"]["database"]["ok"]
    api.client.get("/healthz")
    metrics = api.client.get("/metrics", headers=scraper)
    assert metrics.status_code == 200
    assert "tapeworks_http_requests_total" in metrics.text
