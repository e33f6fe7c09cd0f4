"""Notification choices (`GET|PUT /api/v1/auth/me/notifications`)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from tapeworks.http.inputs import StrictInput


class NotificationsIn(StrictInput):
    mail_events: list[Annotated[str, Field(max_length=64)]] = Field(max_length=20)


class NotificationsOut(BaseModel):
    mail_events: list[str]
    available_events: list[str]
    mail_configured: bool  # false: no mail is sent (TAPEWORKS_SMTP_URL is not set)
    email: str
