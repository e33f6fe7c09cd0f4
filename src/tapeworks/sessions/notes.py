"""Notes and highlights on a session.

A note is on the session as a whole (no span) or on a span of the recording (``start``,
``end`` in seconds of recording time). Recording time does not change when the transcript
is corrected, segments are split or merged or speakers renamed, so a note stays on the
words it was written beside. A highlight is a note with a span and a colour (``#rrggbb``).
Services flush; the edge commits; the search index follows through the session hooks.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from tapeworks.errors import NotFound, ValidationFailed
from tapeworks.sessions.models import RecordingSession, SessionNote
from tapeworks.transcripts.notes import ExportNote

if TYPE_CHECKING:
    from tapeworks.runtime import Runtime

MAX_NOTE_CHARS = 10_000
SPAN_SLACK_SECONDS = 1.0  # word timings may run a little past the probed duration
_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
_UNSET: Any = object()


def _session(db: DbSession, user_id: str, session_id: str) -> RecordingSession:
    s = db.get(RecordingSession, session_id)
    if s is None or s.user_id != user_id:
        raise NotFound(f"session {session_id} not found")
    return s


def _check(session: RecordingSession, text: str, start: float | None, end: float | None,
           colour: str | None) -> tuple[str, float | None, float | None, str | None]:
    text = (text or "").strip()
    if not text and colour is None:
        raise ValidationFailed("a note needs some text (a highlight needs a colour)",
                               details={"field": "text"})
    if len(text) > MAX_NOTE_CHARS:
        raise ValidationFailed(f"a note can be at most {MAX_NOTE_CHARS} characters",
                               details={"field": "text"})
    if start is None and end is not None:
        raise ValidationFailed("a note with an end needs a start", details={"field": "start"})
    if start is not None:
        end = start if end is None else end
        if start < 0 or end < start:
            raise ValidationFailed("a note's span must have 0 <= start <= end (seconds)",
                                   details={"field": "start"})
        limit = (session.duration_seconds or 0.0) + SPAN_SLACK_SECONDS
        if session.duration_seconds and end > limit:
            raise ValidationFailed(
                f"the span ends at {end:.1f} s, after the end of the recording "
                f"({session.duration_seconds:.1f} s)", details={"field": "end"})
    if colour is not None:
        if not _COLOUR.match(colour):
            raise ValidationFailed("colour must look like #ffcc00", details={"field": "colour"})
        if start is None:
            raise ValidationFailed("a highlight needs a span (start and end)",
                                   details={"field": "start"})
        colour = colour.lower()
    return text, start, end, colour


def create_note(db: DbSession, rt: Runtime, user_id: str, session_id: str, *, text: str,
                start: float | None = None, end: float | None = None,
                colour: str | None = None) -> SessionNote:
    session = _session(db, user_id, session_id)
    text, start, end, colour = _check(session, text, start, end, colour)
    note = SessionNote(user_id=user_id, session_id=session.id, text=text, start=start, end=end,
                       colour=colour)
    db.add(note)
    db.flush()
    rt.session_hooks.on_note(db, note)
    return note


def list_notes(db: DbSession, user_id: str, session_id: str) -> list[SessionNote]:
    _session(db, user_id, session_id)
    return notes_of(db, session_id)


def notes_of(db: DbSession, session_id: str) -> list[SessionNote]:
    return list(db.scalars(
        select(SessionNote).where(SessionNote.session_id == session_id)
        .order_by(SessionNote.start.is_not(None), SessionNote.start, SessionNote.created_at,
                  SessionNote.id)))


def get_note(db: DbSession, user_id: str, session_id: str, note_id: str) -> SessionNote:
    _session(db, user_id, session_id)
    note = db.get(SessionNote, note_id)
    if note is None or note.session_id != session_id:
        raise NotFound(f"note {note_id} not found")
    return note


def update_note(db: DbSession, rt: Runtime, user_id: str, session_id: str, note_id: str,
                *, text: str = _UNSET, start: float | None = _UNSET,
                end: float | None = _UNSET, colour: str | None = _UNSET) -> SessionNote:
    note = get_note(db, user_id, session_id, note_id)
    session = _session(db, user_id, session_id)
    new = _check(session,
                 note.text if text is _UNSET else text,
                 note.start if start is _UNSET else start,
                 (note.end if start is _UNSET else None) if end is _UNSET else end,
                 note.colour if colour is _UNSET else colour)
    note.text, note.start, note.end, note.colour = new
    db.flush()
    rt.session_hooks.on_note(db, note)
    return note


def delete_note(db: DbSession, rt: Runtime, user_id: str, session_id: str, note_id: str) -> None:
    note = get_note(db, user_id, session_id, note_id)
    rt.session_hooks.on_note_deleted(db, note.id)
    db.delete(note)
    db.flush()


def for_export(notes: Sequence[SessionNote]) -> list[ExportNote]:
    return [ExportNote(text=n.text, start=n.start, end=n.end, colour=n.colour, id=n.id)
            for n in notes]
