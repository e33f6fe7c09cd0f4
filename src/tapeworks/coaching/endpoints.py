"""Coaching-log API: the log (json, csv, xlsx) and manual entries."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from tapeworks.coaching import log_export, service
from tapeworks.coaching.schemas import (
    CoachingLogOut,
    ManualEntryIn,
    ManualEntryOut,
    ManualEntryPatch,
)
from tapeworks.errors import ValidationFailed
from tapeworks.http.deps import DbDep
from tapeworks.http.ranges import content_disposition
from tapeworks.users.deps import CurrentUser

router = APIRouter(prefix="/coaching-log", tags=["coaching log"])

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get("", response_model=CoachingLogOut,
            responses={200: {"content": {"text/csv": {}, XLSX: {}}}})
def coaching_log(
    principal: CurrentUser, db: DbDep,
    date_from: Annotated[date | None, Query(alias="from", description="inclusive, your time zone")] = None,
    date_to: Annotated[date | None, Query(alias="to", description="inclusive, your time zone")] = None,
    client_id: Annotated[str | None, Query(max_length=32)] = None,
    format: Annotated[str, Query(pattern="^(json|csv|xlsx)$")] = "json",
) -> Response:
    """Sessions and manual entries by date, with per-client and overall totals in hours."""
    log = service.coaching_log(db, principal.user_id, date_from=date_from, date_to=date_to,
                               client_id=client_id)
    if format == "csv":
        return Response(log_export.to_csv(log).encode("utf-8"), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": content_disposition("coaching-log.csv",
                                                                             inline=False)})
    if format == "xlsx":
        return Response(log_export.to_xlsx(log), media_type=XLSX,
                        headers={"Content-Disposition": content_disposition("coaching-log.xlsx",
                                                                             inline=False)})
    return Response(CoachingLogOut.of(log).model_dump_json(), media_type="application/json")


@router.post("/entries", status_code=status.HTTP_201_CREATED, response_model=ManualEntryOut)
def add_entry(body: ManualEntryIn, principal: CurrentUser, db: DbDep) -> ManualEntryOut:
    """A session with no recording here (it counts in the log like the others)."""
    entry = service.add_entry(db, principal.user_id, **body.model_dump())
    return ManualEntryOut.model_validate(entry)


@router.get("/entries", response_model=list[ManualEntryOut])
def list_entries(principal: CurrentUser, db: DbDep) -> list[ManualEntryOut]:
    return [ManualEntryOut.model_validate(e) for e in service.list_entries(db, principal.user_id)]


@router.get("/entries/{entry_id}", response_model=ManualEntryOut)
def get_entry(entry_id: str, principal: CurrentUser, db: DbDep) -> ManualEntryOut:
    return ManualEntryOut.model_validate(service.get_entry(db, principal.user_id, entry_id))


@router.patch("/entries/{entry_id}", response_model=ManualEntryOut)
def update_entry(entry_id: str, body: ManualEntryPatch, principal: CurrentUser,
                 db: DbDep) -> ManualEntryOut:
    """Change an entry added by hand; only the fields sent change."""
    values = body.model_dump(exclude_unset=True)
    for field in ("session_date", "minutes", "session_type", "paid", "title"):
        if field in values and values[field] is None:
            raise ValidationFailed(f"{field} cannot be null", details={"field": field})
    entry = service.update_entry(db, principal.user_id, entry_id, **values)
    return ManualEntryOut.model_validate(entry)


@router.delete("/entries/{entry_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_entry(entry_id: str, principal: CurrentUser, db: DbDep) -> None:
    service.delete_entry(db, principal.user_id, entry_id)
