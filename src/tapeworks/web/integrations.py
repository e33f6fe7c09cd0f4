"""The webhooks page (endpoints, their delivery log, test, redeliver) and the account
page's notification choices."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from tapeworks.errors import TapeworksError
from tapeworks.events.service import EVENT_TYPES
from tapeworks.notifications import service as notifications
from tapeworks.web.common import (
    ctx,
    page_errors,
    pop_flash,
    redirect,
    render,
    require_csrf,
    require_user,
    runtime_of,
)
from tapeworks.webhooks import service as webhooks

router = APIRouter(include_in_schema=False)

EVENT_LABELS = {
    "session.completed": "A transcript is ready",
    "session.failed": "A transcription failed",
    "episode.completed": "An episode is ready",
    "episode.failed": "An episode failed",
    "episode.published": "An episode is published",
}


@router.get("/webhooks", response_class=HTMLResponse)
def webhooks_page(request: Request) -> Response:
    principal = require_user(request)
    flash = pop_flash(request)
    if flash.get("user_id") != principal.user_id:
        flash = {}
    rt = runtime_of(request)
    with rt.database.transaction(write=False) as db, page_errors():
        items = []
        for e in webhooks.list_endpoints(db, principal.user_id):
            rows, total = webhooks.list_deliveries(db, principal.user_id, e.id, limit=10)
            items.append({"endpoint": e, "total": total, "deliveries": [
                {"delivery": d, "event": ev, "attempts": attempts} for d, ev, attempts in rows]})
    return render(request, "webhooks.html", ctx(
        request, items=items, event_types=EVENT_TYPES, labels=EVENT_LABELS,
        new_secret=flash.get("new_secret"), new_secret_url=flash.get("new_secret_url"),
        error=flash.get("error"), notice=flash.get("notice"), form=flash.get("form", {})),
        principal=principal)


@router.post("/webhooks")
async def add_webhook(request: Request) -> Response:
    principal = require_user(request)
    form = await request.form()
    require_csrf(request, str(form.get("csrf_token") or ""))
    url = str(form.get("url") or "")[:2000]
    description = str(form.get("description") or "")[:500]
    chosen = [str(v) for v in form.getlist("events")][:20]
    rt = runtime_of(request)
    try:
        with rt.database.transaction() as db:
            endpoint = webhooks.create_endpoint(db, rt, principal.user_id, url=url,
                                                events=chosen, description=description)
            secret, endpoint_url = endpoint.secret, endpoint.url
    except TapeworksError as exc:
        return redirect("/webhooks#new-webhook-heading", request, user_id=principal.user_id,
                        error=f"The webhook was not added: {exc.message}.",
                        form={"url": url, "description": description, "events": chosen})
    return redirect("/webhooks#new-secret-box", request, user_id=principal.user_id,
                    new_secret=secret, new_secret_url=endpoint_url)


def _act(request: Request, webhook_id: str, csrf_token: str | None, action: str) -> Response:
    principal = require_user(request)
    require_csrf(request, csrf_token)
    rt = runtime_of(request)
    flash: dict[str, str] = {}
    try:
        with rt.database.transaction() as db:
            if action == "test":
                webhooks.send_test(db, rt, principal.user_id, webhook_id)
                flash["notice"] = "A test event is on its way; its attempt appears in the log."
            elif action in ("enable", "disable"):
                webhooks.update_endpoint(db, rt, principal.user_id, webhook_id,
                                         enabled=action == "enable")
                flash["notice"] = f"The webhook is {action}d."
            elif action == "rotate":
                e = webhooks.rotate_secret(db, principal.user_id, webhook_id)
                flash["new_secret"], flash["new_secret_url"] = e.secret, e.url
                flash["notice"] = ("New secret made. The old one also signs for 24 hours, "
                                   "so you can update your receiver.")
            elif action == "delete":
                webhooks.delete_endpoint(db, rt, principal.user_id, webhook_id)
                flash["notice"] = "The webhook was deleted: nothing more is sent to it."
    except TapeworksError as exc:
        flash = {"error": f"Nothing was changed: {exc.message}."}
    return redirect("/webhooks", request, user_id=principal.user_id, **flash)


@router.post("/webhooks/{webhook_id}/test")
def test_webhook(request: Request, webhook_id: str,
                 csrf_token: Annotated[str | None, Form()] = None) -> Response:
    return _act(request, webhook_id, csrf_token, "test")


@router.post("/webhooks/{webhook_id}/enable")
def enable_webhook(request: Request, webhook_id: str,
                   csrf_token: Annotated[str | None, Form()] = None) -> Response:
    return _act(request, webhook_id, csrf_token, "enable")


@router.post("/webhooks/{webhook_id}/disable")
def disable_webhook(request: Request, webhook_id: str,
                    csrf_token: Annotated[str | None, Form()] = None) -> Response:
    return _act(request, webhook_id, csrf_token, "disable")


@router.post("/webhooks/{webhook_id}/rotate")
def rotate_webhook(request: Request, webhook_id: str,
                   csrf_token: Annotated[str | None, Form()] = None) -> Response:
    return _act(request, webhook_id, csrf_token, "rotate")


@router.post("/webhooks/{webhook_id}/delete")
def delete_webhook(request: Request, webhook_id: str,
                   csrf_token: Annotated[str | None, Form()] = None) -> Response:
    return _act(request, webhook_id, csrf_token, "delete")


@router.post("/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver")
def redeliver(request: Request, webhook_id: str, delivery_id: str,
              csrf_token: Annotated[str | None, Form()] = None) -> Response:
    principal = require_user(request)
    require_csrf(request, csrf_token)
    rt = runtime_of(request)
    try:
        with rt.database.transaction() as db:
            webhooks.redeliver(db, rt, principal.user_id, webhook_id, delivery_id)
    except TapeworksError as exc:
        return redirect("/webhooks", request, user_id=principal.user_id,
                        error=f"Nothing was sent: {exc.message}.")
    return redirect("/webhooks", request, user_id=principal.user_id,
                    notice="The event is being sent again, with the same webhook-id.")


@router.post("/account/notifications")
async def save_notifications(request: Request) -> Response:
    principal = require_user(request)
    form = await request.form()
    require_csrf(request, str(form.get("csrf_token") or ""))
    chosen = [str(v) for v in form.getlist("mail_events")][:20]
    try:
        with runtime_of(request).database.transaction() as db:
            notifications.set_mail_events(db, principal.user_id, chosen)
    except TapeworksError as exc:
        return redirect("/account#notifications-heading", request, user_id=principal.user_id,
                        notifications_notice=f"Nothing was saved: {exc.message}.")
    return redirect("/account#notifications-heading", request, user_id=principal.user_id,
                    notifications_notice="Notification choices saved.")
