"""`session.completed` and `session.failed`, written in the transaction that finishes the
transcription (the queue calls `on_job_finished` from its save or fail)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session as DbSession

from tapeworks.events import service as events
from tapeworks.sessions.models import RecordingSession


def session_data(rt: Any, session: RecordingSession) -> dict[str, Any]:
    base = events.links(rt, "session", session.id)
    data: dict[str, Any] = {
        "id": session.id, "title": session.title, "status": session.status,
        "duration_seconds": session.duration_seconds,
        "language": session.detected_language or session.language,
        "links": {**base, "transcript": f"{base['api']}/transcript"},
    }
    if session.status == "failed":
        data["error"] = {"stage": session.error_stage, "message": session.error}
    return data


def on_job_finished(db: DbSession, rt: Any, session: RecordingSession, job: Any) -> None:
    if job.kind != "transcribe" or session.status not in ("completed", "failed"):
        return
    events.record_event(db, rt, session.user_id, f"session.{session.status}",
                        session_data(rt, session))
