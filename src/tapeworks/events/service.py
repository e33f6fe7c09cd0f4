"""Recording events. `record_event` writes the event row and hands it to the sinks (the
webhook deliveries, the mail), all inside the caller's transaction: a change that rolls
back leaves no event and no delivery; a change that commits has both, and its delivery
jobs are sent after the commit.

The sinks come from the composition root (`background.event_sinks()`, `rt.event_sinks`):
this package knows no webhook and no mail.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session as DbSession

from tapeworks.db.base import utcnow
from tapeworks.events.models import Event

if TYPE_CHECKING:
    from tapeworks.runtime import Runtime

SESSION_COMPLETED = "session.completed"
SESSION_FAILED = "session.failed"
EPISODE_COMPLETED = "episode.completed"
EPISODE_FAILED = "episode.failed"
EPISODE_PUBLISHED = "episode.published"
# What webhook endpoints can subscribe to and users can be mailed about.
EVENT_TYPES: tuple[str, ...] = (SESSION_COMPLETED, SESSION_FAILED, EPISODE_COMPLETED,
                                EPISODE_FAILED, EPISODE_PUBLISHED)
WEBHOOK_TEST = "webhook.test"
WEBHOOK_DISABLED = "webhook.disabled"  # told to the endpoint's owner only (mail)

Sink = Callable[[DbSession, "Runtime", Event], None]


@dataclass(frozen=True)
class EventSinks:
    sinks: tuple[Sink, ...] = ()


def new_event_id() -> str:
    return "evt_" + uuid.uuid4().hex


def record_event(db: DbSession, rt: Runtime, user_id: str, type: str,
                 data: Mapping[str, Any]) -> Event:
    """Write one event of `user_id` in the current transaction and create its deliveries.
    Call it in the transaction that makes the change the event reports."""
    event = Event(id=new_event_id(), user_id=user_id, type=type, data=dict(data),
                  occurred_at=utcnow())
    db.add(event)
    db.flush()
    for sink in getattr(rt, "event_sinks", EventSinks()).sinks:
        sink(db, rt, event)
    return event


def links(rt: Runtime, kind: str, object_id: str) -> dict[str, str]:
    """API and page links of a session or an episode, for event data."""
    base = rt.settings.effective_public_url
    return {"api": f"{base}/api/v1/{kind}s/{object_id}", "page": f"{base}/{kind}s/{object_id}"}
