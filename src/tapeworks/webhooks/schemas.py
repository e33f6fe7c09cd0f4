"""Webhook API shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from tapeworks.http.inputs import Line, StrictInput


class WebhookIn(StrictInput):
    url: str = Field(min_length=1, max_length=2000)
    events: list[Annotated[str, Field(max_length=64)]] = Field(default_factory=list,
                                                                max_length=20)
    description: Annotated[Line, Field(max_length=500)] = ""


class WebhookPatch(StrictInput):
    """Only the fields sent change. `enabled: true` turns a disabled endpoint back on."""

    url: str | None = Field(default=None, min_length=1, max_length=2000)
    events: list[Annotated[str, Field(max_length=64)]] | None = Field(default=None,
                                                                       max_length=20)
    description: Annotated[Line, Field(max_length=500)] | None = None
    enabled: bool | None = None


class WebhookOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    url: str
    description: str
    events: list[str]
    enabled: bool
    disabled_reason: str | None
    disabled_at: datetime | None
    failing_since: datetime | None
    created_at: datetime
    updated_at: datetime


class WebhookWithSecret(WebhookOut):
    """Returned once, at creation and at rotation: keep the secret, it is not shown again."""

    secret: str


class WebhookList(BaseModel):
    items: list[WebhookOut]


class AttemptOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    number: int
    attempted_at: datetime
    outcome: str
    status_code: int | None
    error: str | None
    duration_ms: int


class DeliveryOut(BaseModel):
    id: str
    event_id: str  # the webhook-id header
    event_type: str
    status: str
    attempts: list[AttemptOut]
    next_attempt_at: datetime | None
    created_at: datetime
    finished_at: datetime | None


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]
    total: int
    limit: int
    offset: int
