"""Mail when work is done: each user's choices, and the outbox's mail sink.

With `TAPEWORKS_SMTP_URL` unset nothing is mailed (and the account page says so). Otherwise
an event the user chose (by default: completed and failed) becomes a `mail_deliveries` row
and a `mail.send` job in the transaction that recorded the event; a mail server that is
down or answers 4xx delays the mail (retried on the webhook schedule), none is lost.
Notices about the user's own integrations (`webhook.disabled`) are always mailed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from tapeworks.db.base import utcnow
from tapeworks.errors import NotFound, ValidationFailed
from tapeworks.events.models import Event
from tapeworks.notifications.messages import DEFAULT_MAIL_EVENTS, MAIL_EVENTS, OWNER_NOTICES
from tapeworks.notifications.models import MailDelivery, NotificationSettings
from tapeworks.queue import jobs
from tapeworks.users.models import User

if TYPE_CHECKING:
    from tapeworks.runtime import Runtime

SEND_KIND = "mail.send"
OWNER_KIND = "mail_delivery"


def mail_configured(rt: Runtime) -> bool:
    return bool(rt.settings.smtp_url.strip())


def mail_events(db: DbSession, user_id: str) -> list[str]:
    row = db.get(NotificationSettings, user_id)
    chosen = set(row.mail_events) if row is not None else set(DEFAULT_MAIL_EVENTS)
    return [e for e in MAIL_EVENTS if e in chosen]


def set_mail_events(db: DbSession, user_id: str, events: Sequence[str]) -> list[str]:
    unknown = [e for e in events if e not in MAIL_EVENTS]
    if unknown:
        raise ValidationFailed(f"unknown event {unknown[0]!r}; mail can be sent for: "
                               f"{', '.join(MAIL_EVENTS)}", details={"field": "mail_events"})
    row = db.get(NotificationSettings, user_id)
    if row is None:
        row = NotificationSettings(user_id=user_id, mail_events=[])
        db.add(row)
    row.mail_events = [e for e in MAIL_EVENTS if e in set(events)]
    row.updated_at = utcnow()
    db.flush()
    return list(row.mail_events)


def fan_out(db: DbSession, rt: Runtime, event: Event) -> None:
    """The outbox's mail sink."""
    if not mail_configured(rt):
        return
    if event.type not in OWNER_NOTICES and event.type not in mail_events(db, event.user_id):
        return
    delivery = MailDelivery(user_id=event.user_id, event_id=event.id, status="pending",
                            attempts=0, created_at=utcnow())
    db.add(delivery)
    db.flush()
    jobs.create_job(db, rt, kind=SEND_KIND, user_id=event.user_id, owner_kind=OWNER_KIND,
                    owner_id=delivery.id)


@dataclass(frozen=True)
class MailPayload:
    delivery_id: str
    number: int
    to: str | None  # None: nothing to send
    event_type: str
    data: dict[str, Any]
    user_id: str = ""  # for the mail's unsubscribe link


@dataclass(frozen=True)
class MailResult:
    error: str | None
    temporary: bool
    rt: Any


def prepare_send(db: DbSession, delivery_id: str) -> MailPayload:
    delivery = db.get(MailDelivery, delivery_id)
    if delivery is None:
        raise NotFound("the mail no longer exists")
    event = db.get(Event, delivery.event_id)
    user = db.get(User, delivery.user_id)
    if event is None or user is None:
        raise NotFound("the account no longer exists")
    to = user.email if delivery.status == "pending" and user.is_active else None
    return MailPayload(delivery.id, delivery.attempts + 1, to, event.type, dict(event.data),
                       user.id)


def record_send(db: DbSession, rt: Runtime, payload: MailPayload, result: MailResult) -> None:
    delivery = db.get(MailDelivery, payload.delivery_id, populate_existing=True)
    if delivery is None or delivery.status != "pending":
        return
    if payload.to is None:
        delivery.status = "cancelled"
        return
    delivery.attempts = payload.number
    delivery.last_error = result.error
    if result.error is None:
        delivery.status = "sent"
        delivery.sent_at = utcnow()
        return
    delays = tuple(rt.settings.webhook_retry_schedule)
    if not result.temporary or payload.number >= len(delays):
        delivery.status = "failed"
        return
    delay = delays[payload.number]
    jobs.create_job(db, rt, kind=SEND_KIND, user_id=delivery.user_id, owner_kind=OWNER_KIND,
                    owner_id=delivery.id, delay=delay)


def deliveries_of(db: DbSession, user_id: str) -> list[MailDelivery]:
    return list(db.scalars(select(MailDelivery).where(MailDelivery.user_id == user_id)
                           .order_by(MailDelivery.created_at.desc()).limit(50)))
