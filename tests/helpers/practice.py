"""Sessions with a transcript, made the way the transcription job saves one (transcript in
the store first, then the row and the search index in one transaction), without running
speech recognition: for tests that need many sessions."""

from __future__ import annotations

from datetime import date
from typing import Any

from tapeworks.db.base import new_id
from tapeworks.sessions import service as sessions
from tapeworks.sessions.models import RecordingSession
from tests.helpers.transcripts import make_transcript


def user_id_of(api: Any, headers: dict[str, str]) -> str:
    r = api.client.get("/api/v1/auth/me", headers=headers)
    assert r.status_code == 200, r.text
    return str(r.json()["id"])


def transcribed_session(api: Any, user_id: str, title: str, spoken: list[tuple[str, str]], *,
                        client_id: str | None = None, session_date: date | None = None,
                        **fields: Any) -> str:
    return transcribed_sessions(api, user_id, [(title, spoken)], client_id=client_id,
                                session_date=session_date, **fields)[0]


def transcribed_sessions(api: Any, user_id: str, items: list[tuple[str, list[tuple[str, str]]]],
                         *, client_id: str | None = None, session_date: date | None = None,
                         **fields: Any) -> list[str]:
    """Several at once, in one transaction."""
    rt = api.runtime
    made = []
    for title, spoken in items:
        t = make_transcript(spoken).model_copy(update={"version": 1})
        sid = new_id()
        made.append((sid, title, t, sessions.write_transcript(rt, user_id, sid, t)))
    with rt.database.transaction() as db:
        for sid, title, t, key in made:
            _insert(db, rt, user_id, sid, title, t, key, client_id, session_date, fields)
    return [m[0] for m in made]


def _insert(db: Any, rt: Any, user_id: str, sid: str, title: str, t: Any, key: str,
            client_id: str | None, session_date: date | None, fields: dict[str, Any]) -> None:
    s = RecordingSession(
        id=sid, user_id=user_id, title=title, status="completed", stage="completed",
        message="done", progress_percentage=100.0, transcript_key=key, transcript_version=1,
        transcript_text=t.text(), duration_seconds=t.duration or 0.0,
        session_date=session_date or date(2026, 11, 2), client_id=client_id, **fields)
    db.add(s)
    db.flush()
    rt.session_hooks.on_title(db, s)
    rt.session_hooks.on_transcript(db, s, t)
