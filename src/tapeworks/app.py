"""The FastAPI application: routers, one error handler, CORS on every response."""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import structlog
from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from tapeworks import __version__
from tapeworks.clients.endpoints import router as clients_router
from tapeworks.coaching.endpoints import router as coaching_router
from tapeworks.config import Settings
from tapeworks.db import migrate
from tapeworks.episodes.endpoints import router as episodes_router
from tapeworks.errors import NotFound, TapeworksError
from tapeworks.http.middleware import (
    BodyLimitMiddleware,
    FiniteJsonMiddleware,
    SecurityHeadersMiddleware,
)
from tapeworks.http.openapi import document_errors
from tapeworks.logging import configure_logging, get_logger
from tapeworks.notifications.endpoints import router as notifications_router
from tapeworks.openai_api.endpoints import router as openai_router
from tapeworks.plans.endpoints import admin_router
from tapeworks.plans.endpoints import router as plan_router
from tapeworks.queue.metrics import QueueCollector
from tapeworks.runtime import Runtime
from tapeworks.search.endpoints import router as search_router
from tapeworks.sessions.endpoints import router as sessions_router
from tapeworks.shows.endpoints import router as shows_router
from tapeworks.shows.public import router as public_shows_router
from tapeworks.users.deps import resolve_principal
from tapeworks.users.endpoints import router as auth_router
from tapeworks.users.endpoints import studio_router
from tapeworks.voices.endpoints import router as voices_router
from tapeworks.web import install_web
from tapeworks.webhooks.endpoints import router as webhooks_router

log = get_logger("tapeworks.http")
POLL_ROUTES = frozenset({"/api/v1/sessions/{session_id}/status",
                         "/api/v1/episodes/{episode_id}/status"})
API_PREFIX = "/api/v1"


def error_body(code: str, message: str, request_id: str | None, **details: Any) -> dict[str, Any]:
    err: dict[str, Any] = {"code": code, "message": message, "request_id": request_id}
    if details:
        err["details"] = details
    return {"error": err}


def _request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


class Metrics:
    def __init__(self, rt: Runtime | None = None) -> None:
        self.registry = CollectorRegistry()
        if rt is not None:  # queue depth, ages, running and finished jobs, durations
            self.registry.register(QueueCollector(rt.database))
        self.requests = Counter(
            "tapeworks_http_requests_total", "HTTP requests", ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "tapeworks_http_request_seconds", "HTTP request latency", ["method", "route"],
            registry=self.registry,
        )


class RequestContextMiddleware:
    """Request id, access log, metrics, and the last-resort 500 (inside CORS, rule 3)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode()[:64]
        request_id = incoming if incoming.replace("-", "").isalnum() else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status_holder = {"status": 500, "started": False}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                status_holder["started"] = True
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception as exc:
            log.exception("http.unhandled_error", path=scope.get("path"), error=repr(exc))
            if status_holder["started"]:
                raise
            response = JSONResponse(
                error_body("internal_error", "an unexpected error occurred; quote the request id "
                           "when reporting it", request_id),
                status_code=500,
            )
            await response(scope, receive, send_wrapper)
        finally:
            leftover = scope.get("state", {}).pop("tapeworks_db", None)
            if leftover is not None:  # a read session opened only for the token lookup
                leftover.close()
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            route_path = getattr(route, "path", "unmatched")
            method = scope.get("method", "")
            self.metrics.requests.labels(method, route_path, str(status_holder["status"])).inc()
            self.metrics.latency.labels(method, route_path).observe(elapsed)
            quiet = route_path in ("/healthz", "/metrics") or (
                # a poll that found what it expected: counted in the metrics, not logged
                route_path in POLL_ROUTES and status_holder["status"] in (200, 304))
            if not quiet:
                log.info("http.request", method=method, path=scope.get("path"),
                         status=status_holder["status"], ms=round(elapsed * 1000, 1))
            structlog.contextvars.unbind_contextvars("request_id")


def _format_validation(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body",)) or "body"
        parts.append(f"{loc}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or "the request is not valid"


# Details a server-side error (status >= 500) may show; the rest (keys, paths) is logged.
_PUBLIC_SERVER_DETAILS = frozenset({"limit_type"})


def tapeworks_error_response(request: Request, exc: TapeworksError) -> JSONResponse:
    details = exc.details
    if exc.status_code >= 500:
        log.error("http.error", code=exc.code, message=exc.message, details=exc.details)
        details = {k: v for k, v in details.items() if k in _PUBLIC_SERVER_DETAILS}
    headers: dict[str, str] = {}
    if exc.status_code == 401:
        headers["WWW-Authenticate"] = "Bearer"
    retry_after = exc.details.get("retry_after_seconds")
    if exc.status_code in (429, 503) and isinstance(retry_after, int | float):
        headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
    return JSONResponse(
        error_body(exc.code, exc.public_message or exc.message, _request_id(request), **details),
        status_code=exc.status_code, headers=headers or None,
    )


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(TapeworksError)
    async def _tapeworks_error(request: Request, exc: TapeworksError) -> JSONResponse:
        return tapeworks_error_response(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(
            error_body("validation_error", _format_validation(exc), _request_id(request)),
            status_code=422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized",
                 413: "request_too_large", 422: "validation_error"}
        message = exc.detail if isinstance(exc.detail, str) else "request failed"
        if exc.status_code == 404 and message == "Not Found":
            message = f"no route for {request.method} {request.url.path}"
        return JSONResponse(
            error_body(codes.get(exc.status_code, "http_error"), message, _request_id(request)),
            status_code=exc.status_code, headers=getattr(exc, "headers", None),
        )


def system_router() -> APIRouter:
    router = APIRouter(tags=["system"])

    @router.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    @router.get("/readyz", responses={503: {"description": "not ready"}})
    def readyz(request: Request) -> JSONResponse:
        """Ready or not (database at the code's schema, store and queue reachable). Which
        check failed, and why, only for an administrator's token or the metrics token."""
        rt: Runtime = request.app.state.runtime
        checks = readiness(rt)
        ok = all(c["ok"] for c in checks.values())
        body: dict[str, Any] = {"ready": ok}
        if _may_see_details(request, rt):
            body["checks"] = checks
        return JSONResponse(body, status_code=200 if ok else 503)

    @router.get("/metrics", response_class=PlainTextResponse,
                responses={404: {"description": "metrics are not served to this caller"}})
    def metrics(request: Request) -> Response:
        """Prometheus metrics: with `Authorization: Bearer <TAPEWORKS_METRICS_TOKEN>`, or to
        anyone when TAPEWORKS_METRICS_PUBLIC=true. Otherwise there is nothing here (404)."""
        rt: Runtime = request.app.state.runtime
        if not (rt.settings.metrics_public or _has_metrics_token(request, rt)):
            raise NotFound(f"no route for GET {request.url.path}")
        m: Metrics = request.app.state.metrics
        return Response(generate_latest(m.registry), media_type=CONTENT_TYPE_LATEST)

    return router


def _bearer_value(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


def _has_metrics_token(request: Request, rt: Runtime) -> bool:
    expected = rt.settings.metrics_token
    presented = _bearer_value(request)
    return bool(expected and presented
                and hmac.compare_digest(presented.encode(), expected.encode()))


def _may_see_details(request: Request, rt: Runtime) -> bool:
    if _has_metrics_token(request, rt):
        return True
    if _bearer_value(request) is None:
        return False
    try:
        principal = resolve_principal(request)
    except (TapeworksError, SQLAlchemyError):  # a bad token, or the database is down
        return False
    return principal is not None and principal.is_admin


def readiness(rt: Runtime) -> dict[str, dict[str, Any]]:
    checks: dict[str, dict[str, Any]] = {}

    def check(name: str, fn: Callable[[], str | None]) -> None:
        try:
            checks[name] = {"ok": True, "detail": fn() or "ok"}
        except Exception as exc:  # readiness reports any failure, it must not raise
            checks[name] = {"ok": False, "detail": f"{type(exc).__name__}: {exc}"[:300]}

    def database() -> str:
        rt.database.ping()
        current = migrate.current_revision(rt.database.url)
        head = migrate.head_revision()
        if current != head:
            raise RuntimeError(f"schema at {current}, code expects {head}: run `tapeworks db upgrade`")
        return f"at head {head}"

    def store() -> str:
        rt.store.ping()
        return "s3" if rt.store.url.startswith("s3://") else "local directory"

    check("database", database)
    check("store", store)
    check("queue", lambda: rt.queue.ping())
    return checks


Lifespan = Callable[[FastAPI], Any]


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> FastAPI:
    settings = settings or (runtime.settings if runtime else Settings())
    configure_logging(settings.log_level, settings.log_json)
    rt = runtime or Runtime(settings)
    settings.resolved_secret_key()  # refuse a default secret before serving anything

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        starters: list[Callable[[], Awaitable[None] | None]] = app.state.on_start
        for fn in starters:
            fn()
        yield
        for fn in reversed(app.state.on_stop):
            fn()
        for close in reversed(app.state.on_stop_async):  # e.g. the status reader's pool
            await close()

    app = FastAPI(
        title="tapeworks",
        version=__version__,
        description="Transcripts and publish-ready audio from recorded conversations.",
        lifespan=lifespan,
        docs_url=None,  # our own /docs below, with a Content-Security-Policy for its script
        redoc_url=None,
    )
    app.state.runtime = rt
    app.state.metrics = Metrics(rt)
    app.state.on_start = []
    app.state.on_stop = []
    app.state.on_stop_async = []
    install_error_handlers(app)

    app.include_router(system_router())
    app.include_router(docs_router(app))
    app.include_router(public_shows_router)  # feeds and their media, no login (rule 14)
    app.include_router(openai_router)  # /v1/...: OpenAI's shapes and errors, Bearer tokens
    for router in api_routers():
        app.include_router(router, prefix=API_PREFIX)
    install_openapi(app)
    install_consumers(app)
    install_web(app)  # pages (outside the API contract), /static, cookie_reader

    # Order matters (the last added is the outermost): forwarded headers are applied first
    # (only from trusted proxies), the security headers go on every response (CORS
    # preflights included), the context middleware (with the last-resort 500) is inside
    # CORS, so every response, errors included, carries the CORS headers for allowed
    # origins, and the body limit sits inside it (its 413 has a request id).
    app.add_middleware(FiniteJsonMiddleware)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestContextMiddleware, metrics=app.state.metrics)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_credentials=True,
        allow_methods=["*"],
        allow_headers=["*"],
        expose_headers=["x-request-id", "content-range", "accept-ranges", "content-disposition",
                        "retry-after"],
    )
    app.add_middleware(SecurityHeadersMiddleware)
    if settings.trusted_proxies:
        app.add_middleware(ProxyHeadersMiddleware,
                           trusted_hosts=",".join(settings.trusted_proxies))
    return app


def server_options(settings: Settings) -> dict[str, Any]:
    """How uvicorn runs the app (`serve`, and the tests' live servers): no `server` banner,
    and no forwarded headers believed by uvicorn itself (the app applies them, and only
    from TAPEWORKS_TRUSTED_PROXIES)."""
    return {"server_header": False, "proxy_headers": False, "date_header": True}


def docs_router(app: FastAPI) -> APIRouter:
    """`/docs`: Swagger UI for the OpenAPI document. Its page has one inline script (the
    UI's configuration); the policy allows exactly that script by its hash, plus the UI's
    files from their CDN, and nothing else."""
    router = APIRouter(include_in_schema=False)
    page = get_swagger_ui_html(openapi_url=app.openapi_url or "/openapi.json",
                               title=f"{app.title} - API")
    html = bytes(page.body).decode()
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"
        for script in re.findall(r"<script>(.*?)</script>", html, flags=re.DOTALL))
    cdn = "https://cdn.jsdelivr.net"
    policy = (f"default-src 'none'; script-src {hashes} {cdn}; style-src {cdn} 'unsafe-inline'; "
              "img-src 'self' data: https://fastapi.tiangolo.com; connect-src 'self'; "
              "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")

    @router.get("/docs")
    def docs() -> HTMLResponse:
        return HTMLResponse(html, headers={"Content-Security-Policy": policy})

    return router


def install_openapi(app: FastAPI) -> None:
    """The OpenAPI document lists every operation's error responses in our error shape."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_errors(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def api_routers() -> list[APIRouter]:
    """Every API router; each states its own prefix once (rule 2)."""
    return [auth_router, studio_router, sessions_router, episodes_router, plan_router,
            admin_router, shows_router, clients_router, coaching_router, search_router,
            voices_router, webhooks_router, notifications_router]


def install_consumers(app: FastAPI) -> None:
    """On the embedded default, the job consumers (both pools) run inside `serve`."""
    rt: Runtime = app.state.runtime
    threads = rt.settings.serve_threads
    if not any(n > 0 for n in threads.values()):
        return
    app.state.on_start.append(lambda: rt.queue.start(threads))  # type: ignore[arg-type]
    app.state.on_stop.append(lambda: rt.queue.close() if "queue" in rt.__dict__ else None)
