"""Webhooks API: `/api/v1/webhooks` (endpoints, test, rotation, deliveries, redelivery)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from tapeworks.http.deps import DbDep, RuntimeDep
from tapeworks.users.deps import CurrentUser
from tapeworks.webhooks import service
from tapeworks.webhooks.models import WebhookDelivery
from tapeworks.webhooks.schemas import (
    AttemptOut,
    DeliveryOut,
    DeliveryPage,
    WebhookIn,
    WebhookList,
    WebhookOut,
    WebhookPatch,
    WebhookWithSecret,
)

router = APIRouter(prefix="/webhooks", tags=["webhooks"])


def _delivery_out(d: WebhookDelivery, event_type: str,
                  attempts: list[AttemptOut] | None = None) -> DeliveryOut:
    return DeliveryOut(id=d.id, event_id=d.event_id, event_type=event_type, status=d.status,
                       attempts=attempts or [], next_attempt_at=d.next_attempt_at,
                       created_at=d.created_at, finished_at=d.finished_at)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=WebhookWithSecret)
def create_webhook(body: WebhookIn, principal: CurrentUser, db: DbDep,
                   rt: RuntimeDep) -> WebhookWithSecret:
    """Register an endpoint. The answer carries its secret (``whsec_...``) once."""
    endpoint = service.create_endpoint(db, rt, principal.user_id, url=body.url,
                                       events=body.events, description=body.description)
    return WebhookWithSecret.model_validate(endpoint)


@router.get("", response_model=WebhookList)
def list_webhooks(principal: CurrentUser, db: DbDep) -> WebhookList:
    return WebhookList(items=[WebhookOut.model_validate(e)
                              for e in service.list_endpoints(db, principal.user_id)])


@router.get("/{webhook_id}", response_model=WebhookOut)
def get_webhook(webhook_id: str, principal: CurrentUser, db: DbDep) -> WebhookOut:
    return WebhookOut.model_validate(service.get_endpoint(db, principal.user_id, webhook_id))


@router.patch("/{webhook_id}", response_model=WebhookOut)
def patch_webhook(webhook_id: str, body: WebhookPatch, principal: CurrentUser, db: DbDep,
                  rt: RuntimeDep) -> WebhookOut:
    endpoint = service.update_endpoint(db, rt, principal.user_id, webhook_id,
                                       **body.model_dump(exclude_unset=True))
    return WebhookOut.model_validate(endpoint)


@router.delete("/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_webhook(webhook_id: str, principal: CurrentUser, db: DbDep,
                   rt: RuntimeDep) -> Response:
    service.delete_endpoint(db, rt, principal.user_id, webhook_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{webhook_id}/test", status_code=status.HTTP_202_ACCEPTED,
             response_model=DeliveryOut)
def test_webhook(webhook_id: str, principal: CurrentUser, db: DbDep,
                 rt: RuntimeDep) -> DeliveryOut:
    """Send a `webhook.test` event to this endpoint (once, no retries)."""
    delivery = service.send_test(db, rt, principal.user_id, webhook_id)
    return _delivery_out(delivery, "webhook.test")


@router.post("/{webhook_id}/rotate-secret", response_model=WebhookWithSecret)
def rotate_webhook_secret(webhook_id: str, principal: CurrentUser,
                          db: DbDep) -> WebhookWithSecret:
    """A new secret, shown once; the old one also signs for 24 hours."""
    return WebhookWithSecret.model_validate(
        service.rotate_secret(db, principal.user_id, webhook_id))


@router.get("/{webhook_id}/deliveries", response_model=DeliveryPage)
def list_webhook_deliveries(
    webhook_id: str, principal: CurrentUser, db: DbDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> DeliveryPage:
    """Newest first, each with its attempts (time, status code or error, duration)."""
    rows, total = service.list_deliveries(db, principal.user_id, webhook_id, limit=limit,
                                          offset=offset)
    items = [_delivery_out(d, e.type, [AttemptOut.model_validate(a) for a in attempts])
             for d, e, attempts in rows]
    return DeliveryPage(items=items, total=total, limit=limit, offset=offset)


@router.post("/{webhook_id}/deliveries/{delivery_id}/redeliver",
             status_code=status.HTTP_202_ACCEPTED, response_model=DeliveryOut)
def redeliver_webhook(webhook_id: str, delivery_id: str, principal: CurrentUser, db: DbDep,
                      rt: RuntimeDep) -> DeliveryOut:
    """Send the delivery's event again (the same ``webhook-id``) as a new delivery."""
    delivery = service.redeliver(db, rt, principal.user_id, webhook_id, delivery_id)
    event = service.event_of(db, delivery)
    return _delivery_out(delivery, event.type)
