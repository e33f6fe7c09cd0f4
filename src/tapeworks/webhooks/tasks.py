"""The `webhook.deliver` job: one attempt of one delivery, in the short pool.

claim: the delivery, its endpoint and event copied into a `DeliveryPayload` (URL, body,
secrets); work: one POST through the guarded sender (no database session); save: the
attempt recorded and the next one scheduled as a new job (`service.record_attempt`). A
worker killed between the POST and the save leaves a lease that expires: the reconciler runs
the attempt again, with the same ``webhook-id`` (receivers drop duplicates by it).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session as DbSession

from tapeworks.queue.jobs import JobContext
from tapeworks.queue.models import Job
from tapeworks.queue.registry import Pool
from tapeworks.webhooks import service
from tapeworks.webhooks.delivery import AttemptResult, WebhookSender


@dataclass(frozen=True)
class DeliverResult:
    attempt: AttemptResult | None
    rt: Any


class DeliverWebhookHandler:
    kind = service.DELIVER_KIND
    pool: Pool = "short"
    max_attempts: int | None = 3  # a worker lost mid-attempt; the schedule is the delivery's

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._senders: dict[tuple[bool, float], WebhookSender] = {}

    def sender(self, rt: Any) -> WebhookSender:
        key = (rt.settings.webhook_allow_private, rt.settings.webhook_timeout_seconds)
        with self._lock:
            if key not in self._senders:
                self._senders[key] = WebhookSender(service.policy(rt), timeout=key[1])
            return self._senders[key]

    def prepare(self, db: DbSession, job: Job) -> service.DeliveryPayload:
        assert job.owner_id is not None
        return service.prepare_attempt(db, job.owner_id)

    def work(self, ctx: JobContext, payload: service.DeliveryPayload) -> DeliverResult:
        if payload.message is None:
            return DeliverResult(None, ctx.rt)
        return DeliverResult(self.sender(ctx.rt).send(payload.message), ctx.rt)

    def save(self, db: DbSession, job: Job, payload: service.DeliveryPayload,
             result: DeliverResult) -> None:
        service.record_attempt(db, result.rt, payload, result.attempt)
