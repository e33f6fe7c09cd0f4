"""Clients API shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from tapeworks.http.inputs import Name


class ClientIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[Name, Field(min_length=1)]
    email: str | None = Field(default=None, max_length=320)
    organisation: Name | None = None
    notes: str | None = Field(default=None, max_length=20_000)


class ClientPatch(BaseModel):
    """Only the fields sent change; ``null`` clears an optional field."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    organisation: str | None = Field(default=None, max_length=200)
    notes: str | None = Field(default=None, max_length=20_000)


class ClientOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    email: str | None
    organisation: str | None
    notes: str | None
    created_at: datetime
    updated_at: datetime


class ClientPage(BaseModel):
    items: list[ClientOut]
    total: int
    limit: int
    offset: int
