"""Coaching-log API shapes."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from tapeworks.coaching.log_export import CoachingLog, Total
from tapeworks.http.inputs import Title


class LogEntryOut(BaseModel):
    session_date: date
    client: str | None
    title: str
    session_type: str
    paid: bool
    minutes: float
    hours: float
    source: str  # "session" or "manual"


class TotalOut(BaseModel):
    client: str | None  # null in `overall`, and for sessions with no client
    sessions: int
    hours: float
    paid_hours: float
    pro_bono_hours: float

    @classmethod
    def of(cls, t: Total) -> TotalOut:
        return cls(client=t.client, sessions=t.sessions, hours=round(t.hours, 2),
                   paid_hours=round(t.paid_hours, 2), pro_bono_hours=round(t.pro_bono_hours, 2))


class CoachingLogOut(BaseModel):
    date_from: date | None
    date_to: date | None
    entries: list[LogEntryOut]
    by_client: list[TotalOut]
    overall: TotalOut

    @classmethod
    def of(cls, log: CoachingLog) -> CoachingLogOut:
        return cls(
            date_from=log.date_from, date_to=log.date_to,
            entries=[LogEntryOut(session_date=e.session_date, client=e.client, title=e.title,
                                 session_type=e.session_type, paid=e.paid, minutes=e.minutes,
                                 hours=round(e.minutes / 60.0, 2), source=e.source)
                     for e in log.entries],
            by_client=[TotalOut.of(t) for t in log.by_client], overall=TotalOut.of(log.overall))


class ManualEntryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    session_date: date
    minutes: float = Field(ge=0, le=24 * 60)
    title: Title = ""
    session_type: str = "individual"
    paid: bool = True
    client_id: str | None = Field(default=None, max_length=32)
    notes: str | None = Field(default=None, max_length=10_000)


class ManualEntryPatch(BaseModel):
    """Only the fields sent change; ``null`` clears the client or the notes."""

    model_config = ConfigDict(extra="forbid")

    session_date: date | None = None
    minutes: float | None = Field(default=None, ge=0, le=24 * 60)
    title: Title | None = None
    session_type: str | None = None
    paid: bool | None = None
    client_id: str | None = Field(default=None, max_length=32)
    notes: str | None = Field(default=None, max_length=10_000)


class ManualEntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    session_date: date
    minutes: float
    title: str
    session_type: str
    paid: bool
    client_id: str | None
    notes: str | None
