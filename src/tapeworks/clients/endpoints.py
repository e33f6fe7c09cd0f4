"""Clients API: `/api/v1/clients` CRUD."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from tapeworks.clients import service
from tapeworks.clients.schemas import ClientIn, ClientOut, ClientPage, ClientPatch
from tapeworks.http.deps import DbDep
from tapeworks.users.deps import CurrentUser

router = APIRouter(prefix="/clients", tags=["clients"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ClientOut)
def create_client(body: ClientIn, principal: CurrentUser, db: DbDep) -> ClientOut:
    client = service.create_client(db, principal.user_id, **body.model_dump())
    return ClientOut.model_validate(client)


@router.get("", response_model=ClientPage)
def list_clients(
    principal: CurrentUser, db: DbDep,
    q: Annotated[str | None, Query(max_length=200, description="part of the name")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> ClientPage:
    rows, total = service.list_clients(db, principal.user_id, q=q, limit=limit, offset=offset)
    return ClientPage(items=[ClientOut.model_validate(c) for c in rows], total=total,
                      limit=limit, offset=offset)


@router.get("/{client_id}", response_model=ClientOut)
def get_client(client_id: str, principal: CurrentUser, db: DbDep) -> ClientOut:
    return ClientOut.model_validate(service.get_client(db, principal.user_id, client_id))


@router.patch("/{client_id}", response_model=ClientOut)
def patch_client(client_id: str, body: ClientPatch, principal: CurrentUser,
                 db: DbDep) -> ClientOut:
    client = service.update_client(db, principal.user_id, client_id,
                                   **body.model_dump(exclude_unset=True))
    return ClientOut.model_validate(client)


@router.delete("/{client_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_client(client_id: str, principal: CurrentUser, db: DbDep) -> Response:
    """Delete the client; its sessions stay, with no client."""
    service.delete_client(db, principal.user_id, client_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
