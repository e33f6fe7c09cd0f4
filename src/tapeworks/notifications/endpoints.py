"""Notification choices of the signed-in user: `/api/v1/auth/me/notifications`."""

from __future__ import annotations

from fastapi import APIRouter

from tapeworks.http.deps import DbDep, RuntimeDep
from tapeworks.notifications import service
from tapeworks.notifications.messages import MAIL_EVENTS
from tapeworks.notifications.schemas import NotificationsIn, NotificationsOut
from tapeworks.users.deps import CurrentUser
from tapeworks.users.models import User

router = APIRouter(prefix="/auth/me/notifications", tags=["auth"])


def _out(db: DbDep, rt: RuntimeDep, user_id: str) -> NotificationsOut:
    user = db.get(User, user_id)
    assert user is not None
    return NotificationsOut(mail_events=service.mail_events(db, user_id),
                            available_events=list(MAIL_EVENTS),
                            mail_configured=service.mail_configured(rt), email=user.email)


@router.get("", response_model=NotificationsOut)
def get_notifications(principal: CurrentUser, db: DbDep, rt: RuntimeDep) -> NotificationsOut:
    """Which events mail you (by default completed and failed work)."""
    return _out(db, rt, principal.user_id)


@router.put("", response_model=NotificationsOut)
def put_notifications(body: NotificationsIn, principal: CurrentUser, db: DbDep,
                      rt: RuntimeDep) -> NotificationsOut:
    """Choose the events that mail you; an empty list turns mail off."""
    service.set_mail_events(db, principal.user_id, body.mail_events)
    return _out(db, rt, principal.user_id)
