"""The coaching log: what a coach reports for a credential, from the sessions recorded here
and the entries added by hand, with per-client and overall totals.

Dates are the sessions' own ``session_date`` (a date, in the user's time zone when it was
set from a time); ``date_from``/``date_to`` are inclusive. A session's minutes are its
``billable_minutes``, or the recording's length when that was never set.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from tapeworks.clients import service as clients
from tapeworks.coaching.log_export import CoachingLog, LogEntry, build_log
from tapeworks.coaching.models import SESSION_TYPES, CoachingLogEntry
from tapeworks.errors import NotFound, ValidationFailed
from tapeworks.sessions.models import RecordingSession

MAX_MINUTES = 24 * 60


def check_session_type(value: str) -> str:
    if value not in SESSION_TYPES:
        raise ValidationFailed(f"session type must be one of {', '.join(SESSION_TYPES)}",
                               details={"field": "session_type", "allowed": list(SESSION_TYPES)})
    return value


def check_minutes(value: float) -> float:
    if not 0 <= value <= MAX_MINUTES:
        raise ValidationFailed(f"minutes must be between 0 and {MAX_MINUTES}",
                               details={"field": "minutes"})
    return float(value)


def session_minutes(s: RecordingSession) -> float:
    if s.billable_minutes is not None:
        return float(s.billable_minutes)
    return round((s.duration_seconds or 0.0) / 60.0, 2)


def coaching_log(db: DbSession, user_id: str, *, date_from: date | None = None,
                 date_to: date | None = None, client_id: str | None = None) -> CoachingLog:
    if date_from and date_to and date_from > date_to:
        raise ValidationFailed("'from' is after 'to'", details={"field": "from"})
    if client_id:
        clients.get_client(db, user_id, client_id)  # 404 for an unknown or foreign client
    stmt = select(RecordingSession).where(RecordingSession.user_id == user_id,
                                          RecordingSession.session_date.is_not(None))
    manual = select(CoachingLogEntry).where(CoachingLogEntry.user_id == user_id)
    if date_from:
        stmt = stmt.where(RecordingSession.session_date >= date_from)
        manual = manual.where(CoachingLogEntry.session_date >= date_from)
    if date_to:
        stmt = stmt.where(RecordingSession.session_date <= date_to)
        manual = manual.where(CoachingLogEntry.session_date <= date_to)
    if client_id:
        stmt = stmt.where(RecordingSession.client_id == client_id)
        manual = manual.where(CoachingLogEntry.client_id == client_id)
    sessions = list(db.scalars(stmt))
    entries = list(db.scalars(manual))
    ids = {s.client_id for s in sessions if s.client_id} | {e.client_id for e in entries
                                                             if e.client_id}
    name = clients.names(db, user_id, ids)
    rows = [LogEntry(session_date=s.session_date, client=name.get(s.client_id or ""),
                     title=s.title, session_type=s.session_type, paid=s.paid,
                     minutes=session_minutes(s), source="session", ref=s.id)
            for s in sessions if s.session_date is not None]
    rows += [LogEntry(session_date=e.session_date, client=name.get(e.client_id or ""),
                      title=e.title, session_type=e.session_type, paid=e.paid,
                      minutes=e.minutes, source="manual", ref=e.id) for e in entries]
    return build_log(rows, date_from=date_from, date_to=date_to)


@dataclass(frozen=True)
class ClientSummary:
    sessions: int  # recordings and manual entries
    minutes: float  # billable minutes of them all
    last_date: date | None


def client_summaries(db: DbSession, user_id: str) -> dict[str, ClientSummary]:
    """Per client id: how many sessions (recorded or entered by hand), their billable
    minutes and the latest date; clients with none are absent."""
    found: dict[str, list[tuple[float, date | None]]] = {}
    for s in db.scalars(select(RecordingSession).where(RecordingSession.user_id == user_id,
                                                       RecordingSession.client_id.is_not(None))):
        found.setdefault(s.client_id or "", []).append((session_minutes(s), s.session_date))
    for e in db.scalars(select(CoachingLogEntry).where(CoachingLogEntry.user_id == user_id,
                                                       CoachingLogEntry.client_id.is_not(None))):
        found.setdefault(e.client_id or "", []).append((float(e.minutes), e.session_date))
    return {cid: ClientSummary(sessions=len(rows), minutes=round(sum(m for m, _ in rows), 2),
                               last_date=max((d for _, d in rows if d), default=None))
            for cid, rows in found.items()}


def add_entry(db: DbSession, user_id: str, *, session_date: date, minutes: float,
              title: str = "", session_type: str = "individual", paid: bool = True,
              client_id: str | None = None, notes: str | None = None) -> CoachingLogEntry:
    if client_id:
        clients.get_client(db, user_id, client_id)
    entry = CoachingLogEntry(user_id=user_id, client_id=client_id, session_date=session_date,
                             title=title.strip(), session_type=check_session_type(session_type),
                             paid=paid, minutes=check_minutes(minutes), notes=notes)
    db.add(entry)
    db.flush()
    return entry


def get_entry(db: DbSession, user_id: str, entry_id: str) -> CoachingLogEntry:
    entry = db.get(CoachingLogEntry, entry_id)
    if entry is None or entry.user_id != user_id:
        raise NotFound(f"log entry {entry_id} not found")
    return entry


def list_entries(db: DbSession, user_id: str) -> list[CoachingLogEntry]:
    return list(db.scalars(select(CoachingLogEntry).where(CoachingLogEntry.user_id == user_id)
                           .order_by(CoachingLogEntry.session_date.desc(), CoachingLogEntry.id)))


def update_entry(db: DbSession, user_id: str, entry_id: str, **values: Any) -> CoachingLogEntry:
    entry = get_entry(db, user_id, entry_id)
    if values.get("client_id"):
        clients.get_client(db, user_id, values["client_id"])
    if "session_type" in values:
        check_session_type(values["session_type"])
    if "minutes" in values:
        values["minutes"] = check_minutes(values["minutes"])
    for key, value in values.items():
        setattr(entry, key, value)
    db.flush()
    return entry


def delete_entry(db: DbSession, user_id: str, entry_id: str) -> None:
    db.delete(get_entry(db, user_id, entry_id))
    db.flush()
