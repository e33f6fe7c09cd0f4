"""Webhook endpoints and deliveries: the rules.

* An endpoint is registered with a URL the SSRF guard accepts (checked again before each
  delivery, after resolving), the events it wants (empty: all) and a description; its
  secret (``whsec_...``) is shown once, at creation and at rotation.
* `fan_out` is the outbox's webhook sink: for an event, one delivery per enabled endpoint of
  its owner that wants it, and one `webhook.deliver` job per delivery, in the transaction
  that recorded the event.
* `record_attempt` applies the result of one attempt: delivered; 410 disables the endpoint;
  anything else is retried on `TAPEWORKS_WEBHOOK_RETRY_SCHEDULE` (``Retry-After`` honoured)
  until the schedule ends; an endpoint failing for `webhook_disable_after_seconds` is
  disabled and its owner told (`webhook.disabled`, by mail).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session as DbSession

from tapeworks.db.base import utcnow
from tapeworks.errors import Conflict, NotFound, ValidationFailed
from tapeworks.events import service as events
from tapeworks.events.models import Event
from tapeworks.queue import jobs
from tapeworks.webhooks.delivery import (
    AttemptResult,
    Message,
    RetrySchedule,
    event_body,
    new_secret,
)
from tapeworks.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from tapeworks.webhooks.ssrf import AddressPolicy, AddressRefused

if TYPE_CHECKING:
    from tapeworks.runtime import Runtime

DELIVER_KIND = "webhook.deliver"
OWNER_KIND = "webhook_delivery"
ROTATION_OVERLAP = timedelta(hours=24)
MAX_ENDPOINTS_PER_USER = 20


def policy(rt: Runtime) -> AddressPolicy:
    return AddressPolicy(allow_private=rt.settings.webhook_allow_private)


def schedule(rt: Runtime) -> RetrySchedule:
    return RetrySchedule(tuple(rt.settings.webhook_retry_schedule))


def check_url(rt: Runtime, url: str) -> str:
    url = url.strip()
    if len(url) > 2000:
        raise ValidationFailed("the URL is longer than 2000 characters", details={"field": "url"})
    try:
        policy(rt).check_url(url)
    except AddressRefused as exc:
        raise ValidationFailed(f"this webhook URL cannot be used: {exc.reason}",
                               details={"field": "url"}) from None
    return url


def check_events(types: Sequence[str]) -> list[str]:
    unknown = [t for t in types if t not in events.EVENT_TYPES]
    if unknown:
        raise ValidationFailed(
            f"unknown event {unknown[0]!r}; events are: {', '.join(events.EVENT_TYPES)} "
            "(an empty list means all of them)", details={"field": "events"})
    return sorted(set(types), key=events.EVENT_TYPES.index)


# ---------------------------------------------------------------- endpoints
def create_endpoint(db: DbSession, rt: Runtime, user_id: str, *, url: str,
                    events: Sequence[str] = (), description: str = "") -> WebhookEndpoint:
    url = check_url(rt, url)
    chosen = check_events(events)
    count = db.scalar(select(func.count()).select_from(WebhookEndpoint)
                      .where(WebhookEndpoint.user_id == user_id)) or 0
    if count >= MAX_ENDPOINTS_PER_USER:
        raise Conflict(f"you already have {count} webhook endpoints, the most one account "
                       "can have; delete one first")
    endpoint = WebhookEndpoint(user_id=user_id, url=url, events=chosen,
                               description=description, secret=new_secret(), enabled=True)
    db.add(endpoint)
    db.flush()
    return endpoint


def list_endpoints(db: DbSession, user_id: str) -> list[WebhookEndpoint]:
    return list(db.scalars(select(WebhookEndpoint).where(WebhookEndpoint.user_id == user_id)
                           .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)))


def get_endpoint(db: DbSession, user_id: str, endpoint_id: str) -> WebhookEndpoint:
    endpoint = db.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or endpoint.user_id != user_id:
        raise NotFound(f"webhook {endpoint_id} not found")
    return endpoint


def update_endpoint(db: DbSession, rt: Runtime, user_id: str, endpoint_id: str,
                    **changes: Any) -> WebhookEndpoint:
    endpoint = get_endpoint(db, user_id, endpoint_id)
    if "url" in changes and changes["url"] is not None:
        endpoint.url = check_url(rt, changes["url"])
    if "events" in changes and changes["events"] is not None:
        endpoint.events = check_events(changes["events"])
    if "description" in changes and changes["description"] is not None:
        endpoint.description = changes["description"]
    if "enabled" in changes and changes["enabled"] is not None:
        if changes["enabled"] and not endpoint.enabled:
            endpoint.disabled_reason = None
            endpoint.disabled_at = None
            endpoint.failing_since = None
        endpoint.enabled = bool(changes["enabled"])
        if not endpoint.enabled and endpoint.disabled_reason is None:
            endpoint.disabled_reason = "turned off by its owner"
            endpoint.disabled_at = utcnow()
    db.flush()
    return endpoint


def delete_endpoint(db: DbSession, rt: Runtime, user_id: str, endpoint_id: str) -> None:
    endpoint = get_endpoint(db, user_id, endpoint_id)
    for delivery_id in db.scalars(select(WebhookDelivery.id)
                                  .where(WebhookDelivery.endpoint_id == endpoint.id)):
        jobs.delete_jobs_of(db, rt.registry, OWNER_KIND, delivery_id)
    db.delete(endpoint)
    db.flush()


def rotate_secret(db: DbSession, user_id: str, endpoint_id: str) -> WebhookEndpoint:
    """A new secret; the old one keeps signing (a second signature) for 24 hours."""
    endpoint = get_endpoint(db, user_id, endpoint_id)
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = utcnow() + ROTATION_OVERLAP
    endpoint.secret = new_secret()
    db.flush()
    return endpoint


def signing_secrets(endpoint: WebhookEndpoint, now: datetime) -> tuple[str, ...]:
    out = [endpoint.secret]
    if endpoint.previous_secret and endpoint.previous_secret_expires_at \
            and endpoint.previous_secret_expires_at > now:
        out.append(endpoint.previous_secret)
    return tuple(out)


# ---------------------------------------------------------------- deliveries
def wants(endpoint: WebhookEndpoint, event_type: str) -> bool:
    return endpoint.enabled and (not endpoint.events or event_type in endpoint.events)


def _new_delivery(db: DbSession, rt: Runtime, endpoint: WebhookEndpoint, event: Event,
                  delay: float = 0.0) -> WebhookDelivery:
    delivery = WebhookDelivery(endpoint_id=endpoint.id, event_id=event.id, status="pending",
                               attempts=0, created_at=utcnow(),
                               next_attempt_at=utcnow() + timedelta(seconds=delay))
    db.add(delivery)
    db.flush()
    jobs.create_job(db, rt, kind=DELIVER_KIND, user_id=endpoint.user_id,
                    owner_kind=OWNER_KIND, owner_id=delivery.id, delay=delay)
    return delivery


def fan_out(db: DbSession, rt: Runtime, event: Event) -> None:
    """The outbox's webhook sink: a delivery (and its job) per endpoint that wants it."""
    if event.type not in events.EVENT_TYPES:
        return
    for endpoint in list_endpoints(db, event.user_id):
        if wants(endpoint, event.type):
            _new_delivery(db, rt, endpoint, event, delay=schedule(rt).delays[0])


def send_test(db: DbSession, rt: Runtime, user_id: str, endpoint_id: str) -> WebhookDelivery:
    """`webhook.test` to this endpoint only (even a disabled one: that is how it is checked)."""
    endpoint = get_endpoint(db, user_id, endpoint_id)
    event = Event(id=events.new_event_id(), user_id=user_id, type=events.WEBHOOK_TEST,
                  data={"webhook_id": endpoint.id,
                        "message": "This is a test event sent from tapeworks."},
                  occurred_at=utcnow())
    db.add(event)
    db.flush()
    return _new_delivery(db, rt, endpoint, event)


def redeliver(db: DbSession, rt: Runtime, user_id: str, endpoint_id: str,
              delivery_id: str) -> WebhookDelivery:
    """The same event again (same ``webhook-id``), as a new delivery with its own attempts."""
    endpoint = get_endpoint(db, user_id, endpoint_id)
    old = db.get(WebhookDelivery, delivery_id)
    if old is None or old.endpoint_id != endpoint.id:
        raise NotFound(f"delivery {delivery_id} not found")
    if not endpoint.enabled:
        raise Conflict("this webhook is disabled; enable it before redelivering")
    event = db.get(Event, old.event_id)
    assert event is not None
    return _new_delivery(db, rt, endpoint, event)


def list_deliveries(db: DbSession, user_id: str, endpoint_id: str, *, limit: int = 50,
                    offset: int = 0) -> tuple[list[tuple[WebhookDelivery, Event,
                                                         list[WebhookAttempt]]], int]:
    endpoint = get_endpoint(db, user_id, endpoint_id)
    base = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id)
    total = db.scalar(select(func.count()).select_from(base.subquery())) or 0
    rows = list(db.scalars(base.order_by(WebhookDelivery.created_at.desc(),
                                         WebhookDelivery.id.desc()).limit(limit).offset(offset)))
    ids = [d.id for d in rows]
    attempts: dict[str, list[WebhookAttempt]] = {i: [] for i in ids}
    if ids:
        for a in db.scalars(select(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(ids))
                            .order_by(WebhookAttempt.number)):
            attempts[a.delivery_id].append(a)
    evs = {e.id: e for e in db.scalars(select(Event).where(
        Event.id.in_({d.event_id for d in rows})))} if rows else {}
    return [(d, evs[d.event_id], attempts[d.id]) for d in rows], total


# ---------------------------------------------------------------- one attempt
@dataclass(frozen=True)
class DeliveryPayload:
    delivery_id: str
    number: int  # this attempt's number (1-based)
    message: Message | None  # None: nothing to send (endpoint disabled, delivery finished)
    skip_reason: str = ""


def prepare_attempt(db: DbSession, delivery_id: str) -> DeliveryPayload:
    delivery = db.get(WebhookDelivery, delivery_id)
    if delivery is None:
        raise NotFound("the webhook delivery no longer exists")
    endpoint = db.get(WebhookEndpoint, delivery.endpoint_id)
    event = db.get(Event, delivery.event_id)
    if endpoint is None or event is None:
        raise NotFound("the webhook no longer exists")
    number = delivery.attempts + 1
    if delivery.status != "pending":
        return DeliveryPayload(delivery.id, number, None, f"already {delivery.status}")
    if not endpoint.enabled and event.type != events.WEBHOOK_TEST:
        return DeliveryPayload(delivery.id, number, None, "the webhook is disabled")
    body = event_body(event.type, event.occurred_at, event.data)
    message = Message(url=endpoint.url, message_id=event.id, body=body,
                      secrets=signing_secrets(endpoint, utcnow()))
    return DeliveryPayload(delivery.id, number, message)


def record_attempt(db: DbSession, rt: Runtime, payload: DeliveryPayload,
                   result: AttemptResult | None) -> None:
    delivery = db.get(WebhookDelivery, payload.delivery_id, populate_existing=True)
    if delivery is None:
        return
    if result is None:
        if delivery.status == "pending":
            delivery.status = "cancelled"
            delivery.finished_at = utcnow()
            delivery.last_error = payload.skip_reason
            delivery.next_attempt_at = None
        return
    endpoint = db.get(WebhookEndpoint, delivery.endpoint_id)
    event = db.get(Event, delivery.event_id)
    assert endpoint is not None and event is not None
    db.add(WebhookAttempt(delivery_id=delivery.id, number=payload.number,
                          attempted_at=result.attempted_at, outcome=result.outcome,
                          status_code=result.status_code, error=result.error,
                          duration_ms=result.duration_ms,
                          response_excerpt=result.response_excerpt[:1024]))
    delivery.attempts = payload.number
    delivery.last_error = result.error
    now = utcnow()
    is_test = event.type == events.WEBHOOK_TEST
    if result.delivered:
        delivery.status = "delivered"
        delivery.finished_at = now
        delivery.next_attempt_at = None
        endpoint.failing_since = None
        return
    if not is_test and endpoint.failing_since is None:
        endpoint.failing_since = result.attempted_at
    if result.outcome == "gone":
        delivery.status = "failed"
        delivery.finished_at = now
        delivery.next_attempt_at = None
        if not is_test:
            disable(db, rt, endpoint, "the receiver answered 410 Gone")
        return
    if endpoint.enabled and not is_test and endpoint.failing_since is not None and \
            (now - endpoint.failing_since).total_seconds() >= \
            rt.settings.webhook_disable_after_seconds:
        delivery.status = "failed"
        delivery.finished_at = now
        delivery.next_attempt_at = None
        days = rt.settings.webhook_disable_after_seconds / 86400
        disable(db, rt, endpoint, f"every delivery failed for {days:g} days "
                f"(last: {result.error})")
        return
    delay = None if is_test else schedule(rt).next_delay(payload.number,
                                                         result.retry_after_seconds)
    if delay is None:
        delivery.status = "failed"
        delivery.finished_at = now
        delivery.next_attempt_at = None
        return
    delivery.next_attempt_at = now + timedelta(seconds=delay)
    jobs.create_job(db, rt, kind=DELIVER_KIND, user_id=endpoint.user_id,
                    owner_kind=OWNER_KIND, owner_id=delivery.id, delay=delay)


def disable(db: DbSession, rt: Runtime, endpoint: WebhookEndpoint, reason: str) -> None:
    """Stop sending to an endpoint and tell its owner (mail, and the webhooks page)."""
    if not endpoint.enabled:
        return
    endpoint.enabled = False
    endpoint.disabled_reason = reason
    endpoint.disabled_at = utcnow()
    for d in db.scalars(select(WebhookDelivery).where(
            WebhookDelivery.endpoint_id == endpoint.id, WebhookDelivery.status == "pending")):
        d.status = "cancelled"
        d.finished_at = utcnow()
        d.next_attempt_at = None
        d.last_error = "the webhook was disabled"
    events.record_event(db, rt, endpoint.user_id, events.WEBHOOK_DISABLED,
                        {"webhook_id": endpoint.id, "url": endpoint.url, "reason": reason})


def event_of(db: DbSession, delivery: WebhookDelivery) -> Event:
    event = db.get(Event, delivery.event_id)
    assert event is not None
    return event
