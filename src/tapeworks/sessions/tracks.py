"""Multitrack sessions: one recording made of one file per speaker (Riverside, Zencastr,
SquadCast and Zoom export them), each with a name and an optional offset in seconds.

- Every track is probed before anything is stored: one that is not audio refuses the
  whole upload, naming the track, and nothing is kept (rule 4 in reverse).
- Tracks are stored under the session's prefix (`tracks/{track_id}.{ext}`) before the rows
  name them; a refusal after that (quota, database) deletes what was stored.
- The plan sees one recording: its length is the longest track on the timeline (offset
  included), its bytes are the tracks' bytes summed.
- More tracks may be added (`add_track`) until transcription starts, 409 after: the add
  locks the session's jobs, then the session (the lock order of every writer), and checks
  that the transcription job is still queued, so a worker claiming it either sees the new
  track or the add is refused.
- The transcription job transcribes each track on its own (its speaker is the track's, no
  diarization), merges them and makes the mixdown (the player's audio), see tasks.py.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session as DbSession

from tapeworks.db.base import new_id
from tapeworks.errors import Conflict, UnsupportedMedia, ValidationFailed
from tapeworks.http.inputs import clean_text
from tapeworks.http.intake import NewRecording, probe_upload
from tapeworks.logging import get_logger
from tapeworks.plans import enforcement
from tapeworks.queue.models import Job
from tapeworks.sessions import service
from tapeworks.sessions.models import RecordingSession, SessionTrack
from tapeworks.storage import keys
from tapeworks.users import service as users

if TYPE_CHECKING:
    from tapeworks.runtime import Runtime
    from tapeworks.users.service import Principal

log = get_logger("tapeworks.sessions.tracks")

MAX_TRACKS = 10
MAX_NAME_CHARS = 100
MAX_OFFSET_SECONDS = 6 * 3600.0


@dataclass(frozen=True)
class TrackFile:
    """A received track: the file, the name the user gave it, where it starts."""

    path: Path
    filename: str
    name: str
    offset_seconds: float = 0.0


@dataclass(frozen=True)
class TrackRef:
    """What a job needs of a track (copied in its claim phase)."""

    position: int
    name: str
    key: str
    offset_seconds: float
    duration_seconds: float


def is_multitrack(n_files: int, field_names: Sequence[str]) -> bool:
    """Several files, or one named as a track: a multitrack session."""
    return n_files > 1 or "track_names" in field_names or "track_offsets" in field_names


def parse_offset(raw: str | None, what: str) -> float:
    text = (raw or "").strip()
    if not text:
        return 0.0
    try:
        value = float(text)
    except ValueError:
        raise ValidationFailed(
            f"the offset of {what} must be a number of seconds, not {text!r}",
            details={"field": "track_offsets"},
        ) from None
    if not math.isfinite(value) or value < 0 or value > MAX_OFFSET_SECONDS:
        raise ValidationFailed(
            f"the offset of {what} must be between 0 and {MAX_OFFSET_SECONDS:.0f} seconds",
            details={"field": "track_offsets"},
        )
    return value


def parse_name(raw: str | None, what: str) -> str:
    name = clean_text(raw, MAX_NAME_CHARS)
    if not name:
        raise ValidationFailed(
            f"{what} needs a name (the speaker it records)", details={"field": "track_names"}
        )
    return name


def track_files(
    files: Sequence[tuple[Path, str]], names: Sequence[str] | None, offsets: Sequence[str] | None
) -> list[TrackFile]:
    """Pair the received files with their `track_names` and `track_offsets` entries (one
    of each per file, in the order the files came; offsets may be left out)."""
    if not files:
        raise ValidationFailed("send at least one track in a 'file' field")
    if len(files) > MAX_TRACKS:
        raise ValidationFailed(f"a recording has at most {MAX_TRACKS} tracks")
    names = list(names or [])
    if len(names) != len(files):
        raise ValidationFailed(
            f"name every track: send one 'track_names' entry per file "
            f"({len(files)} files, {len(names)} names)",
            details={"field": "track_names"},
        )
    offsets = list(offsets or [])
    if offsets and len(offsets) != len(files):
        raise ValidationFailed(
            f"send one 'track_offsets' entry per file, or none "
            f"({len(files)} files, {len(offsets)} offsets)",
            details={"field": "track_offsets"},
        )
    out = []
    for k, (path, filename) in enumerate(files):
        what = f"track {k + 1}"
        name = parse_name(names[k], what)
        out.append(
            TrackFile(
                path,
                filename,
                name,
                parse_offset(offsets[k] if offsets else None, f"{what} ({name})"),
            )
        )
    return out


def probe_tracks(
    files: Sequence[TrackFile], first_position: int = 1, *, max_seconds: float | None = None
) -> list[NewRecording]:
    """Probe every track; one that is not audio refuses them all, naming it. With
    `max_seconds` (the recording's longest accepted length) no track is decoded past the
    point where, with its offset, it would end beyond it."""
    probed = []
    for k, f in enumerate(files):
        limit = None if max_seconds is None else max(0.0, max_seconds - f.offset_seconds)
        try:
            probed.append(probe_upload(f.path, f.filename, max_seconds=limit))
        except UnsupportedMedia as exc:
            raise type(exc)(
                f"track {first_position + k} ({f.name}) is not audio we can use: "
                f"{exc.message}; nothing was uploaded",
                details={**exc.details, "track": first_position + k},
            ) from exc
    return probed


def recording_length(tracks: Sequence[tuple[float, float]]) -> float:
    """The recording's length: the end of the longest track on the timeline."""
    return max((offset + duration for offset, duration in tracks), default=0.0)


def _store(
    rt: Runtime, user_id: str, session_id: str, recs: Sequence[NewRecording]
) -> list[tuple[str, str]]:
    """Store the tracks (ids made here); every stored object is deleted if one fails."""
    stored: list[tuple[str, str]] = []
    try:
        for rec in recs:
            track_id = new_id()
            key = keys.session_track(user_id, session_id, track_id, rec.ext)
            rt.store.put_file(key, rec.path)
            stored.append((track_id, key))
    except BaseException:
        for _, key in stored:
            rt.store.delete(key)
        raise
    return stored


def _rows(
    session_id: str,
    files: Sequence[TrackFile],
    recs: Sequence[NewRecording],
    stored: Sequence[tuple[str, str]],
    first_position: int,
) -> list[SessionTrack]:
    return [
        SessionTrack(
            id=track_id,
            session_id=session_id,
            position=first_position + k,
            name=f.name,
            offset_seconds=f.offset_seconds,
            key=key,
            filename=rec.filename,
            format=rec.ext,
            codec=rec.info.codec,
            channels=rec.info.channels,
            sample_rate=rec.info.sample_rate,
            size_bytes=rec.size_bytes,
            duration_seconds=rec.info.duration_seconds,
        )
        for k, (f, rec, (track_id, key)) in enumerate(zip(files, recs, stored, strict=True))
    ]


def _describe(session: RecordingSession, tracks: Sequence[SessionTrack]) -> None:
    """The session's source fields for a multitrack recording (the mixdown, once made,
    is described by the transcription job)."""
    session.track_count = len(tracks)
    session.num_speakers = len(tracks)
    session.size_bytes = sum(t.size_bytes for t in tracks)
    session.duration_seconds = recording_length(
        [(t.offset_seconds, t.duration_seconds) for t in tracks]
    )
    session.channels = max((t.channels for t in tracks), default=0)
    session.sample_rate = max((t.sample_rate for t in tracks), default=0)
    if not session.source_key:
        session.source_filename = f"{len(tracks)} tracks"
        session.source_format = "multitrack"
        session.codec = ""


def accept_tracks(
    rt: Runtime,
    principal: Principal,
    *,
    files: Sequence[TrackFile],
    title: str | None,
    language: str | None,
    idempotency_key: str | None,
    client_id: str | None = None,
    vocabulary: str | None = None,
) -> tuple[RecordingSession, list[SessionTrack]]:
    """Probe every track, check the plan on the recording they make, store them, then
    create the session, its tracks and its transcription job in one unit of work."""
    recs = probe_tracks(files, max_seconds=enforcement.recording_seconds_limit(rt, principal))
    lang, _ = service.validate_options(language, None)
    given_terms = service.parse_vocabulary(vocabulary) if vocabulary else None
    total_bytes = sum(r.size_bytes for r in recs)
    length = recording_length(
        [(f.offset_seconds, r.info.duration_seconds) for f, r in zip(files, recs, strict=True)]
    )
    clean_title = (
        clean_text(title, 300) or " & ".join(f.name for f in files)[:300] or "Untitled recording"
    )
    enforcement.precheck_upload(
        rt,
        principal,
        size_bytes=total_bytes,
        seconds=length,
        at_least=any(r.length_is_lower_bound for r in recs),
    )
    for rec in recs:
        service.refuse_over_limit(rec)
    session_id = service.new_session_id()
    stored = _store(rt, principal.user_id, session_id, recs)

    def _create(db: DbSession) -> tuple[RecordingSession, list[SessionTrack]]:
        if idempotency_key:
            found = service.find_by_idempotency_key(db, principal.user_id, idempotency_key)
            if found is not None:
                return found, list_tracks(db, found.id)
        enforcement.check_upload(db, rt, principal, size_bytes=total_bytes, seconds=length)
        session = service.create_session(
            db,
            rt,
            user_id=principal.user_id,
            session_id=session_id,
            source_key=None,
            rec=recs[0],
            title=clean_title,
            language=lang,
            num_speakers=len(files),
            idempotency_key=idempotency_key,
            client_id=(client_id or "").strip() or None,
            vocabulary=given_terms or users.vocabulary(db, principal.user_id),
        )
        rows = _rows(session.id, files, recs, stored, 1)
        db.add_all(rows)
        _describe(session, rows)
        db.flush()
        log.info(
            "session.tracks_received",
            session_id=session.id,
            tracks=len(rows),
            seconds=round(length, 3),
            bytes=total_bytes,
        )
        return session, rows

    try:
        session, rows = rt.database.run(_create)
    except BaseException:
        for _, key in stored:
            rt.store.delete(key)
        raise
    if session.id != session_id:  # an idempotent replay won the race
        for _, key in stored:
            rt.store.delete(key)
    return session, rows


def list_tracks(db: DbSession, session_id: str) -> list[SessionTrack]:
    return list(
        db.scalars(
            select(SessionTrack)
            .where(SessionTrack.session_id == session_id)
            .order_by(SessionTrack.position)
        )
    )


def track_refs(db: DbSession, session_id: str) -> tuple[TrackRef, ...]:
    return tuple(
        TrackRef(t.position, t.name, t.key, t.offset_seconds, t.duration_seconds)
        for t in list_tracks(db, session_id)
    )


def accepts_tracks(db: DbSession, session: RecordingSession) -> bool:
    """A multitrack session whose transcription has not started: more tracks may come."""
    if session.track_count < 1 or session.status != "queued" or not session.current_job_id:
        return False
    job = db.get(Job, session.current_job_id)
    return job is not None and job.status == "queued"


def _still_queued(db: DbSession, session: RecordingSession) -> None:
    if not accepts_tracks(db, session):
        raise Conflict(
            f"the recording is {session.status}: tracks can be added only before "
            "its transcription starts; upload all the tracks again as a new "
            "recording to include this one"
        )


def check_can_add(rt: Runtime, principal: Principal, session_id: str) -> None:
    """Refuse early (before the file is stored): not a multitrack session, or too late."""
    with rt.database.transaction(write=False) as db:
        session = service.get_session(db, principal.user_id, session_id)
        if session.track_count < 1:
            raise Conflict(
                "this recording was uploaded as one file; tracks can be added only "
                "to a recording uploaded with 'track_names'"
            )
        _still_queued(db, session)


def add_track(
    rt: Runtime, principal: Principal, session_id: str, file: TrackFile
) -> tuple[RecordingSession, list[SessionTrack]]:
    """One more track for a multitrack session whose transcription has not started."""
    check_can_add(rt, principal, session_id)
    [rec] = probe_tracks(
        [file], first_position=0, max_seconds=enforcement.recording_seconds_limit(rt, principal)
    )
    enforcement.precheck_upload(
        rt,
        principal,
        size_bytes=rec.size_bytes,
        seconds=file.offset_seconds + rec.info.duration_seconds,
        at_least=rec.length_is_lower_bound,
    )
    service.refuse_over_limit(rec)
    stored = _store(rt, principal.user_id, session_id, [rec])

    def _add(db: DbSession) -> tuple[RecordingSession, list[SessionTrack]]:
        session = service.get_session(db, principal.user_id, session_id, for_update=True)
        if session.track_count < 1:
            raise Conflict(
                "this recording was uploaded as one file; tracks can be added only "
                "to a recording uploaded with 'track_names'"
            )
        _still_queued(db, session)
        tracks = list_tracks(db, session.id)
        if len(tracks) >= MAX_TRACKS:
            raise Conflict(f"a recording has at most {MAX_TRACKS} tracks")
        position = (
            int(
                db.scalar(
                    select(func.max(SessionTrack.position)).where(
                        SessionTrack.session_id == session.id
                    )
                )
                or 0
            )
            + 1
        )
        [row] = _rows(session.id, [file], [rec], stored, position)
        new_length = recording_length(
            [(t.offset_seconds, t.duration_seconds) for t in [*tracks, row]]
        )
        enforcement.check_more_audio(
            db,
            rt,
            principal,
            total_bytes=session.size_bytes + row.size_bytes,
            added_bytes=row.size_bytes,
            total_seconds=new_length,
            added_seconds=max(0.0, new_length - session.duration_seconds),
        )
        db.add(row)
        _describe(session, [*tracks, row])
        db.flush()
        log.info(
            "session.track_added",
            session_id=session.id,
            position=position,
            seconds=round(row.duration_seconds, 3),
            bytes=row.size_bytes,
        )
        return session, [*tracks, row]

    try:
        return rt.database.run(_add)
    except BaseException:
        for _, key in stored:
            rt.store.delete(key)
        raise
