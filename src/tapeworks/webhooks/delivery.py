"""Webhook delivery core: Standard Webhooks 1.0 messages, one HTTP attempt, the retry plan.

What a receiver gets (https://www.standardwebhooks.com, version 1.0):

* body ``{"type": "session.completed", "timestamp": "<ISO 8601 UTC>", "data": {...}}``,
  compact JSON, at most `MAX_BODY_BYTES`;
* ``webhook-id``: the event's id, the same on every retry and redelivery of that event,
  so receivers can drop duplicates;
* ``webhook-timestamp``: Unix seconds of this attempt;
* ``webhook-signature``: ``v1,<base64 HMAC-SHA256 of "id.timestamp.body">``, computed by the
  ``standardwebhooks`` package; during a secret rotation one signature per secret,
  separated by spaces (receivers accept the message when any of them verifies).

One attempt (`WebhookSender.send`) POSTs once, never follows a redirect, gives up after
`timeout` seconds, reads at most `EXCERPT_BYTES` of the answer, and classifies it:
2xx delivered, 410 gone (the endpoint is disabled), anything else failed (retried on
the schedule, a ``Retry-After`` answer pushing the next attempt later). Connections go
through the SSRF guard (`ssrf.GuardedBackend`).
"""

from __future__ import annotations

import base64
import json
import random
import secrets as _secrets
import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Literal

import httpcore
from standardwebhooks.webhooks import Webhook

from tapeworks import __version__
from tapeworks.webhooks.ssrf import AddressPolicy, AddressRefused, GuardedBackend, parse_target

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
MAX_BODY_BYTES = 20 * 1024
EXCERPT_BYTES = 1024
DEFAULT_TIMEOUT_SECONDS = 15.0
# A Retry-After answer delays the next attempt, but never by more than this.
MAX_RETRY_AFTER_SECONDS = 24 * 3600.0
USER_AGENT = f"tapeworks-webhooks/{__version__}"

Outcome = Literal["delivered", "failed", "gone"]


# ---------------------------------------------------------------- secrets and signing


def new_secret() -> str:
    """A fresh endpoint secret, ``whsec_`` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(_secrets.token_bytes(SECRET_BYTES)).decode()


def sign(secrets: Sequence[str], message_id: str, timestamp: datetime, body: bytes) -> str:
    """The ``webhook-signature`` value: one ``v1,...`` per secret, space-separated."""
    if not secrets:
        raise ValueError("at least one secret is needed to sign a webhook")
    if timestamp.tzinfo is None:
        raise ValueError("the signing time must carry a time zone")
    timestamp = timestamp.astimezone(UTC)
    text = body.decode("utf-8")
    return " ".join(Webhook(s).sign(message_id, timestamp, text) for s in secrets)


def headers_for(
    secrets: Sequence[str], message_id: str, body: bytes, *, at: datetime
) -> dict[str, str]:
    """The three Standard Webhooks headers for one attempt made at `at`."""
    at = at.astimezone(UTC)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": sign(secrets, message_id, at, body),
    }


# ---------------------------------------------------------------- payload


class PayloadTooLarge(ValueError):
    pass


def isoformat(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def event_body(event_type: str, occurred_at: datetime, data: Mapping[str, Any]) -> bytes:
    """``{type, timestamp, data}`` as compact UTF-8 JSON, refused over `MAX_BODY_BYTES`."""
    body = json.dumps(
        {"type": event_type, "timestamp": isoformat(occurred_at), "data": dict(data)},
        separators=(",", ":"), ensure_ascii=False, allow_nan=False,
    ).encode("utf-8")
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(
            f"webhook body for {event_type} is {len(body)} bytes, over {MAX_BODY_BYTES}"
        )
    return body


# ---------------------------------------------------------------- retry plan


@dataclass(frozen=True)
class RetrySchedule:
    """`delays[n]` is the wait before attempt n+1 (so `delays[0]` is the first delivery,
    normally 0) and `len(delays)` the number of attempts. Waits get +-`jitter` spread so
    many failed events do not all come back at the same instant."""

    delays: tuple[float, ...]
    jitter: float = 0.1

    @property
    def attempts(self) -> int:
        return len(self.delays)

    def next_delay(
        self,
        attempts_made: int,
        retry_after: float | None = None,
        *,
        rng: Callable[[float, float], float] = random.uniform,
    ) -> float | None:
        """Seconds until the next attempt after `attempts_made` attempts, None when none
        is left. A receiver's ``Retry-After`` is honoured (up to a day) when it asks for
        longer than the schedule."""
        if attempts_made >= len(self.delays):
            return None
        base = self.delays[attempts_made]
        delay = base * (1.0 + rng(-self.jitter, self.jitter)) if base > 0 else 0.0
        if retry_after is not None:
            delay = max(delay, min(retry_after, MAX_RETRY_AFTER_SECONDS))
        return max(0.0, delay)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds from now: delta-seconds or an HTTP date; None if absent
    or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


# ---------------------------------------------------------------- one attempt


@dataclass(frozen=True)
class Message:
    """What one attempt sends: the URL, the event id (``webhook-id``), the body and the
    endpoint's current secrets (more than one during a rotation overlap)."""

    url: str
    message_id: str
    body: bytes
    secrets: tuple[str, ...]


@dataclass(frozen=True)
class AttemptResult:
    outcome: Outcome
    attempted_at: datetime
    duration_ms: int
    status_code: int | None = None
    error: str | None = None  # in the user's words; None when delivered
    retry_after_seconds: float | None = None
    response_excerpt: str = ""

    @property
    def delivered(self) -> bool:
        return self.outcome == "delivered"


def _connect_error_words(exc: Exception) -> str:
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return "the receiver's TLS certificate could not be verified"
        if isinstance(cause, ssl.SSLError):
            return "the TLS handshake with the receiver failed"
        if isinstance(cause, ConnectionRefusedError):
            return "the receiver refused the connection"
        cause = cause.__cause__ or cause.__context__
    text = str(exc).lower()
    if "refused" in text:
        return "the receiver refused the connection"
    if "certificate" in text:
        return "the receiver's TLS certificate could not be verified"
    if "ssl" in text or "tls" in text:
        return "the TLS handshake with the receiver failed"
    return "could not connect to the receiver"


class WebhookSender:
    """Sends one attempt at a time over a guarded, thread-safe connection pool."""

    def __init__(
        self,
        policy: AddressPolicy,
        *,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        ssl_context: ssl.SSLContext | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.policy = policy
        self.timeout = timeout
        self.clock = clock
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context or ssl.create_default_context(),
            network_backend=GuardedBackend(policy),
            max_connections=20,
            max_keepalive_connections=10,
            keepalive_expiry=30.0,
            retries=0,
        )

    def close(self) -> None:
        self._pool.close()

    def __enter__(self) -> WebhookSender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, message: Message) -> AttemptResult:
        at = self.clock()
        started = time.monotonic()

        def result(outcome: Outcome, **kw: Any) -> AttemptResult:
            ms = round((time.monotonic() - started) * 1000)
            return AttemptResult(outcome=outcome, attempted_at=at, duration_ms=ms, **kw)

        try:
            parse_target(message.url)
            headers = {
                **headers_for(message.secrets, message.message_id, message.body, at=at),
                "content-type": "application/json",
                "user-agent": USER_AGENT,
            }
            t = self.timeout
            with self._pool.stream(
                "POST", message.url, headers=list(headers.items()), content=message.body,
                extensions={"timeout": {"connect": t, "read": t, "write": t, "pool": t}},
            ) as response:
                excerpt = bytearray()
                deadline = started + t
                for chunk in response.iter_stream():
                    excerpt += chunk
                    if len(excerpt) >= EXCERPT_BYTES or time.monotonic() > deadline:
                        break
                status = response.status
                retry_after = parse_retry_after(
                    _header(response.headers, b"retry-after"), now=at
                )
        except AddressRefused as exc:
            return result("failed", error=f"not sent: {exc.reason}")
        except httpcore.TimeoutException:
            return result("failed", error=f"no answer within {self.timeout:g} s")
        except httpcore.ConnectError as exc:
            return result("failed", error=_connect_error_words(exc))
        except (httpcore.RemoteProtocolError, httpcore.ReadError, httpcore.WriteError):
            return result("failed", error="the receiver closed the connection without an answer")
        except (httpcore.ProtocolError, httpcore.NetworkError, httpcore.UnsupportedProtocol) as exc:
            return result("failed", error=f"the request failed ({type(exc).__name__})")
        text = bytes(excerpt[:EXCERPT_BYTES]).decode("utf-8", "replace")
        if 200 <= status < 300:
            return result("delivered", status_code=status, response_excerpt=text)
        if status == 410:
            return result("gone", status_code=status, response_excerpt=text,
                          error="HTTP 410: the receiver says this endpoint is gone")
        error = f"HTTP {status}"
        if 300 <= status < 400:
            error += " (redirects are not followed; register the final URL)"
        return result("failed", status_code=status, error=error, response_excerpt=text,
                      retry_after_seconds=retry_after)


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> str | None:
    for k, v in headers:
        if k.lower() == name:
            return v.decode("latin-1")
    return None
