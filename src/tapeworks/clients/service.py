"""Clients: create, list, read, change, delete (a deleted client's sessions stay, unlinked).

Other users' clients are `NotFound`, never `Forbidden`: whether they exist is not told.
Services flush; the edge commits.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session as DbSession

from tapeworks.clients.models import Client
from tapeworks.errors import NotFound, ValidationFailed

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
FIELDS = ("name", "email", "organisation", "notes")


def _clean(values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        if key not in FIELDS:
            raise ValidationFailed(f"unknown client field {key!r}", details={"field": key})
        if isinstance(value, str):
            value = value.strip() or None
        if key == "name" and not value:
            raise ValidationFailed("a client needs a name", details={"field": "name"})
        if key == "email" and value and not _EMAIL.match(value):
            raise ValidationFailed(f"{value!r} is not an e-mail address",
                                   details={"field": "email"})
        out[key] = value
    return out


def create_client(db: DbSession, user_id: str, **values: Any) -> Client:
    client = Client(user_id=user_id, **_clean(values))
    if not client.name:
        raise ValidationFailed("a client needs a name", details={"field": "name"})
    db.add(client)
    db.flush()
    return client


def get_client(db: DbSession, user_id: str, client_id: str) -> Client:
    client = db.get(Client, client_id)
    if client is None or client.user_id != user_id:
        raise NotFound(f"client {client_id} not found")
    return client


def list_clients(db: DbSession, user_id: str, *, q: str | None = None, limit: int = 100,
                 offset: int = 0) -> tuple[list[Client], int]:
    stmt = select(Client).where(Client.user_id == user_id)
    if q and q.strip():
        stmt = stmt.where(func.lower(Client.name).contains(q.strip().lower(), autoescape=True))
    total = db.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = db.scalars(stmt.order_by(func.lower(Client.name), Client.id).limit(limit).offset(offset))
    return list(rows), total


def names(db: DbSession, user_id: str, client_ids: set[str]) -> dict[str, str]:
    if not client_ids:
        return {}
    rows = db.execute(select(Client.id, Client.name).where(Client.user_id == user_id,
                                                           Client.id.in_(client_ids)))
    return {r[0]: r[1] for r in rows}


def update_client(db: DbSession, user_id: str, client_id: str, **values: Any) -> Client:
    client = get_client(db, user_id, client_id)
    for key, value in _clean(values).items():
        setattr(client, key, value)
    db.flush()
    return client


def delete_client(db: DbSession, user_id: str, client_id: str) -> None:
    """Delete the client; its sessions and log entries stay, with no client (their foreign
    keys are ``ON DELETE SET NULL``; SQLite enforces them, see `tapeworks.db.engine`)."""
    client = get_client(db, user_id, client_id)
    db.delete(client)
    db.flush()
