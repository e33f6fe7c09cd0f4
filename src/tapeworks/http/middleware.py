"""ASGI middleware every response goes through: security headers, and the body size limit.

- `SecurityHeadersMiddleware`: a Content-Security-Policy with no inline script (the pages'
  JavaScript is all in /static), `frame-ancestors 'none'` (and `X-Frame-Options: DENY` for
  old browsers), `X-Content-Type-Options: nosniff`, `Referrer-Policy: same-origin`, on every
  response: pages, JSON, audio, static files, errors and CORS preflights. A route that needs
  another policy (the API docs page) sets its own `Content-Security-Policy` header, which is
  kept; the other headers are always added.
- `BodyLimitMiddleware`: every request body is limited (1 MiB by default,
  `TAPEWORKS_MAX_BODY_BYTES`), refused with 413 before it is read when `Content-Length`
  says so and as soon as a streamed body passes the limit otherwise. Routes that take
  uploads stream them to scratch with their own (plan) limit: they are marked with
  `@own_body_limit` and left alone here.
- `FiniteJsonMiddleware`: a JSON body holding `NaN`, `Infinity` or `1e999` is a 422 naming
  the field, for every route (free-form fields included).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

F = TypeVar("F", bound=Callable[..., Any])

_OWN_LIMIT = "__tapeworks_own_body_limit__"

# The pages load their scripts and styles from /static only. Inline style attributes stay
# allowed (progress bars are drawn with a width); inline script never is.
CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "media-src 'self' blob:",
    "connect-src 'self'",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))

SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
)


def own_body_limit(endpoint: F) -> F:
    """Mark an upload route: it streams its body with its own limit (the plan's), so the
    general body limit does not apply. Put it under the route decorator."""
    setattr(endpoint, _OWN_LIMIT, True)
    return endpoint


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.csp = CONTENT_SECURITY_POLICY.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"server"]
                present = {k.lower() for k, _ in headers}
                if b"content-security-policy" not in present:
                    headers.append((b"content-security-policy", self.csp))
                headers.extend(h for h in SECURITY_HEADERS if h[0] not in present)
                if https and b"strict-transport-security" not in present:
                    headers.append((b"strict-transport-security", b"max-age=31536000"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class RequestTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than the limit of {limit} bytes; "
                              "send less (uploads have their own routes and limits)")


class BodyLimitMiddleware:
    """Counts what the route reads. The decision is taken when the body is first read, after
    routing (so the route is known): a route marked `@own_body_limit` reads freely; any other
    gets a 413 at once when `Content-Length` is over the limit (nothing of the body is read),
    or as soon as a streamed body passes it. FastAPI turns the 413 into the usual JSON
    error."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        received = 0
        exempt: bool | None = None

        async def counting_receive() -> Message:
            nonlocal received, exempt
            if exempt is None:
                exempt = bool(getattr(scope.get("endpoint"), _OWN_LIMIT, False))
            if exempt:
                return await receive()
            if declared.isdigit() and int(declared) > limit:
                raise RequestTooLarge(limit)  # refused before a byte of it is read
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise RequestTooLarge(limit)
            return message

        await self.app(scope, counting_receive, send)


class NonFiniteNumber(HTTPException):
    def __init__(self, where: str) -> None:
        super().__init__(422, f"{where}: must be a finite number (NaN, Infinity and numbers "
                              "too large for a double are not accepted)")


def _first_non_finite(value: Any, path: str = "") -> str | None:
    """Where the first NaN or infinity in a decoded JSON document is, as `a.b.0.c`."""
    if isinstance(value, float):
        return None if math.isfinite(value) else (path or "body")
    if isinstance(value, dict):
        items: Iterable[tuple[Any, Any]] = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        found = _first_non_finite(item, f"{path}.{key}" if path else str(key))
        if found is not None:
            return found
    return None


class FiniteJsonMiddleware:
    """JSON bodies with `NaN`, `Infinity` or a number like `1e999` (which Python reads as
    infinity) are refused with a 422 naming the field, whatever the route's types say,
    before the route sees them: no handler ever computes with a non-finite number. Runs
    inside the body limit, so at most `max_body_bytes` are buffered."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _is_json(scope):
            await self.app(scope, receive, send)
            return
        checked = False

        async def checking_receive() -> Message:
            nonlocal checked
            if checked:
                return await receive()
            checked = True
            chunks: list[bytes] = []
            while True:
                message = await receive()
                if message["type"] != "http.request":
                    return message
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    break
            body = b"".join(chunks)
            try:
                document = json.loads(body)
            except (ValueError, RecursionError):
                document = None  # not JSON: the route's own parsing says what is wrong
            where = _first_non_finite(document)
            if where is not None:
                raise NonFiniteNumber(where)
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, checking_receive, send)


def _is_json(scope: Scope) -> bool:
    ctype = dict(scope.get("headers") or []).get(b"content-type", b"").split(b";")[0].strip()
    return ctype == b"application/json" or ctype.endswith(b"+json")
