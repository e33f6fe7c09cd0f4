"""Rule 2: the sorted (method, path) list from /openapi.json equals tests/routes.txt.

A changed route is a visible diff. To accept an intended change:
`TAPEWORKS_UPDATE_ROUTES=1 pytest tests/integration/test_routes.py`.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

from tests.conftest import Api

ROUTES_FILE = Path(__file__).resolve().parents[1] / "routes.txt"


def current_routes(api: Api) -> list[str]:
    spec = api.client.get("/openapi.json").json()
    methods = {"get", "post", "put", "patch", "delete"}
    return sorted(
        f"{m.upper()} {path}" for path, ops in spec["paths"].items() for m in ops if m in methods
    )


def test_routes_match_the_committed_contract(api: Api) -> None:
    routes = current_routes(api)
    if os.environ.get("TAPEWORKS_UPDATE_ROUTES"):
        ROUTES_FILE.write_text("\n".join(routes) + "\n")
    expected = ROUTES_FILE.read_text().split("\n")
    assert routes == [line for line in expected if line], (
        "routes changed; if intended, regenerate tests/routes.txt (see module docstring)"
    )


def test_no_route_has_a_doubled_prefix(api: Api) -> None:
    for route in current_routes(api):
        path = route.split(" ", 1)[1]
        assert "/api/v1/api/v1" not in path
        parts = [p for p in path.split("/") if p and not p.startswith("{")]
        for a, b in itertools.pairwise(parts):
            assert a != b, f"doubled segment in {route}"


def test_documented_core_routes_are_reachable(api: Api) -> None:
    routes = set(current_routes(api))
    for r in ("POST /api/v1/auth/login", "GET /api/v1/auth/me", "POST /api/v1/auth/tokens",
              "GET /healthz", "GET /readyz", "GET /metrics"):
        assert r in routes
