"""What other domains do when a session's searchable content changes.

The sessions domain must not import the domains above it (search sits above sessions),
so the runtime, the composition root, hands it these hooks (`Runtime.session_hooks`).
Each runs inside the transaction that makes the change, so what it writes (the search
index) commits or rolls back with it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session as DbSession

from tapeworks.transcripts.model import Transcript

if TYPE_CHECKING:
    from tapeworks.sessions.models import RecordingSession, SessionNote


@dataclass(frozen=True)
class SessionHooks:
    transcript_saved: tuple[Callable[[DbSession, RecordingSession, Transcript], None], ...] = ()
    title_changed: tuple[Callable[[DbSession, RecordingSession], None], ...] = ()
    note_saved: tuple[Callable[[DbSession, SessionNote], None], ...] = ()
    note_deleted: tuple[Callable[[DbSession, str], None], ...] = ()
    # run on a freshly transcribed transcript before it is written (its speakers'
    # embeddings are in `session_speakers` already): each may return a changed copy (the
    # known voices recognised)
    speakers_found: tuple[Callable[[DbSession, RecordingSession, Transcript], Transcript], ...] = ()

    def on_speakers(self, db: DbSession, session: RecordingSession, t: Transcript) -> Transcript:
        for hook in self.speakers_found:
            t = hook(db, session, t)
        return t

    def on_transcript(self, db: DbSession, session: RecordingSession, t: Transcript) -> None:
        for hook in self.transcript_saved:
            hook(db, session, t)

    def on_title(self, db: DbSession, session: RecordingSession) -> None:
        for hook in self.title_changed:
            hook(db, session)

    def on_note(self, db: DbSession, note: SessionNote) -> None:
        for hook in self.note_saved:
            hook(db, note)

    def on_note_deleted(self, db: DbSession, note_id: str) -> None:
        for hook in self.note_deleted:
            hook(db, note_id)


NO_HOOKS = SessionHooks()
