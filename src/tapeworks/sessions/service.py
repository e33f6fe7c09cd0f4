"""Sessions: the rules. Services flush; the edge commits; jobs go out after the commit."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, func, or_, select, update
from sqlalchemy import delete as sql_delete
from sqlalchemy.orm import Session as DbSession

from tapeworks.audio.peaks import Peaks, compute_peaks
from tapeworks.audio.probe import AudioInfo
from tapeworks.clients import service as clients
from tapeworks.db.base import new_id, utcnow
from tapeworks.db.uow import after_commit
from tapeworks.errors import (
    ArtifactMissing,
    Conflict,
    Gone,
    NotFound,
    PayloadTooLarge,
    QuotaExceeded,
    ValidationFailed,
)
from tapeworks.http.inputs import clean_text
from tapeworks.http.intake import NewRecording, clean_filename, probe_upload
from tapeworks.logging import get_logger
from tapeworks.plans import enforcement
from tapeworks.queue import jobs
from tapeworks.queue.mirror import JobStatusOut, load_owner, mirror_job
from tapeworks.queue.models import Job
from tapeworks.sessions import history
from tapeworks.sessions.hooks import NO_HOOKS, SessionHooks
from tapeworks.sessions.models import (
    RETRYABLE_STATUSES,
    SESSION_STATUSES,
    SESSION_TYPES,
    UNFINISHED_STATUSES,
    RecordingSession,
)
from tapeworks.storage import keys
from tapeworks.transcripts.editing import apply_edits
from tapeworks.transcripts.model import Transcript
from tapeworks.users import service as users
from tapeworks.users.models import ApiToken, User

if TYPE_CHECKING:
    from tapeworks.runtime import Runtime
    from tapeworks.users.service import Principal

log = get_logger("tapeworks.sessions")

OWNER_KIND = "session"  # jobs run for a session carry owner_kind="session"


def get_session(db: DbSession, user_id: str, session_id: str, *, for_update: bool = False) -> RecordingSession:
    """A session of this user; another user's id is a 404, never a 403 (no existence leak)."""
    stmt = select(RecordingSession).where(RecordingSession.id == session_id,
                                          RecordingSession.user_id == user_id)
    return load_owner(db, stmt, owner_kind=OWNER_KIND, owner_id=session_id, what="session",
                      for_update=for_update)


_POLL_COLUMNS = ("status", "progress_percentage", "stage", "message", "eta_seconds", "attempt",
                 "error", "error_stage")


def poll_sql(paramstyle: str) -> str:
    s = RecordingSession.__tablename__
    t, u = ApiToken.__tablename__, User.__tablename__
    mark = "?" if paramstyle == "qmark" else "%s"
    cols = ", ".join(f"s.{c}" for c in _POLL_COLUMNS)
    return (f"SELECT {cols}, t.revoked_at, t.expires_at, u.is_active FROM {t} t "
            f"JOIN {u} u ON u.id = t.user_id JOIN {s} s ON s.user_id = u.id "
            f"WHERE t.token_hash = {mark} AND s.id = {mark}")


def _utc(value: Any) -> datetime:
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def poll_status(engine: Engine, token_hash: str, session_id: str,
                now: datetime | None = None) -> JobStatusOut | None:
    """The status of a session for the holder of a valid token: what pollers ask for
    several times a second, so one query on a pooled DBAPI connection (the ORM and Core
    execution cost several times the query itself). None when the token or the session
    does not answer; the caller then takes the ordinary path, which says why (401 with the
    reason, or 404)."""
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute(poll_sql(engine.dialect.paramstyle), (token_hash, session_id))
        row = cur.fetchone()
        cur.close()
    finally:
        raw.close()  # back to the pool, which rolls the read back
    return poll_answer(row, now)


def poll_answer(row: Any, now: datetime | None = None) -> JobStatusOut | None:
    """The poll query's row as the status, or None when the token does not answer."""
    if row is None:
        return None
    status, pct, stage, message, eta, attempt, error, error_stage, revoked, expires, active = row
    if revoked is not None or not active:
        return None
    if expires is not None and _utc(expires) <= (now or utcnow()):
        return None
    return JobStatusOut(status=status, progress_percentage=round(pct, 1), stage=stage,
                        message=message, eta_seconds=eta, attempt=attempt, error=error,
                        error_stage=error_stage)


def find_by_idempotency_key(db: DbSession, user_id: str, key: str) -> RecordingSession | None:
    return db.scalar(select(RecordingSession).where(RecordingSession.user_id == user_id,
                                                    RecordingSession.idempotency_key == key))


def store_source(rt: Runtime, user_id: str, session_id: str, rec: NewRecording) -> str:
    """Rule 4: the source is in the store before any row says it exists."""
    key = keys.session_source(user_id, session_id, rec.ext)
    rt.store.put_file(key, rec.path)
    return key


def create_session(
    db: DbSession,
    rt: Runtime,
    *,
    user_id: str,
    session_id: str,
    source_key: str | None,
    rec: NewRecording,
    title: str,
    language: str | None,
    num_speakers: int | None,
    idempotency_key: str | None,
    client_id: str | None = None,
    vocabulary: list[str] | None = None,
) -> RecordingSession:
    """Insert the session and its transcription job (queued after the commit)."""
    info = rec.info
    if client_id:
        clients.get_client(db, user_id, client_id)  # 404 for an unknown or foreign client
    session = RecordingSession(
        client_id=client_id or None, session_date=default_session_date(db, user_id, info),
        id=session_id, user_id=user_id, title=title, status="queued", stage="queued",
        message="waiting for a worker", idempotency_key=idempotency_key,
        language=language, num_speakers=num_speakers, source_key=source_key,
        source_filename=rec.filename, source_format=rec.ext, codec=info.codec,
        channels=info.channels, sample_rate=info.sample_rate,
        size_bytes=rec.size_bytes, duration_seconds=info.duration_seconds,
        vocabulary=list(vocabulary or []),
    )
    db.add(session)
    db.flush()
    job = jobs.create_job(db, rt, kind="transcribe", user_id=user_id, owner_kind=OWNER_KIND,
                          owner_id=session.id)
    session.current_job_id = job.id
    rt.session_hooks.on_title(db, session)
    log.info("session.created", session_id=session.id, user_id=user_id, job_id=job.id,
             seconds=info.duration_seconds, bytes=session.size_bytes)
    return session


def default_session_date(db: DbSession, user_id: str, info: AudioInfo) -> date:
    """The recording's own date when the file says (in the user's time zone), else today's."""
    zone = users.time_zone(db, user_id)
    return (info.recorded_at or utcnow()).astimezone(zone).date()


LOG_FIELDS = ("client_id", "session_date", "session_type", "paid", "billable_minutes")
MAX_BILLABLE_MINUTES = 24 * 60


def update_log_fields(db: DbSession, session: RecordingSession, values: dict[str, Any]) -> None:
    """The coaching-log fields of a session (only those given change; ``client_id`` and
    ``billable_minutes`` may be ``None``: no client, the recording's length)."""
    for key, value in values.items():
        if key not in LOG_FIELDS:
            raise ValidationFailed(f"unknown session field {key!r}", details={"field": key})
        if key == "client_id" and value:
            clients.get_client(db, session.user_id, value)
        elif key == "session_type" and value not in SESSION_TYPES:
            raise ValidationFailed(f"session_type must be one of {', '.join(SESSION_TYPES)}",
                                   details={"field": key, "allowed": list(SESSION_TYPES)})
        elif key == "session_date" and value is None:
            raise ValidationFailed("session_date cannot be empty", details={"field": key})
        elif key == "paid" and not isinstance(value, bool):
            raise ValidationFailed("paid must be true or false", details={"field": key})
        elif key == "billable_minutes" and value is not None and not (
                0 <= value <= MAX_BILLABLE_MINUTES):
            raise ValidationFailed(f"billable_minutes must be between 0 and "
                                   f"{MAX_BILLABLE_MINUTES}", details={"field": key})
        setattr(session, key, value or None if key == "client_id" else value)
    db.flush()


def validate_options(language: str | None, speakers: str | None) -> tuple[str | None, int | None]:
    lang = (language or "").strip().lower() or None
    if lang in ("auto", "detect"):
        lang = None
    if lang is not None and (len(lang) > 8 or not lang.replace("-", "").isalpha()):
        raise ValidationFailed(f"language {language!r} is not a language code like 'en' or 'de'")
    n: int | None = None
    if speakers not in (None, "", "auto"):
        try:
            n = int(str(speakers))
        except ValueError:
            raise ValidationFailed(f"speakers must be a number from 1 to 10 or 'auto', not {speakers!r}") from None
        if not 1 <= n <= 10:
            raise ValidationFailed("speakers must be between 1 and 10")
    return lang, n


def list_sessions(
    db: DbSession, user_id: str, *, status: str | None = None, q: str | None = None,
    limit: int = 20, offset: int = 0, client_id: str | None = None,
    date_from: date | None = None, date_to: date | None = None,
) -> tuple[list[RecordingSession], int]:
    """The user's sessions, newest first; ``date_from``/``date_to``: inclusive session dates."""
    stmt = select(RecordingSession).where(RecordingSession.user_id == user_id)
    if client_id:
        stmt = stmt.where(RecordingSession.client_id == client_id)
    if date_from:
        stmt = stmt.where(RecordingSession.session_date >= date_from)
    if date_to:
        stmt = stmt.where(RecordingSession.session_date <= date_to)
    if status:
        wanted = [s.strip() for s in status.split(",") if s.strip()]
        bad = [s for s in wanted if s not in SESSION_STATUSES]
        if bad:
            raise ValidationFailed(f"unknown status {bad[0]!r}; use one of {', '.join(SESSION_STATUSES)}")
        stmt = stmt.where(RecordingSession.status.in_(wanted))
    if q:
        pattern = f"%{q.strip().lower()}%"
        stmt = stmt.where(or_(func.lower(RecordingSession.title).like(pattern),
                              func.lower(func.coalesce(RecordingSession.transcript_text, "")).like(pattern)))
    total = db.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = db.scalars(stmt.order_by(RecordingSession.created_at.desc(), RecordingSession.id)
                      .limit(limit).offset(offset))
    return list(rows), total


def current_job(db: DbSession, session: RecordingSession) -> Job | None:
    return db.get(Job, session.current_job_id) if session.current_job_id else None


def rename_session(db: DbSession, user_id: str, session_id: str, title: str,
                   hooks: SessionHooks = NO_HOOKS) -> RecordingSession:
    clean = " ".join(title.split())[:300]
    if not clean:
        raise ValidationFailed("a recording needs a name; the title was empty",
                               details={"field": "title"})
    session = get_session(db, user_id, session_id, for_update=True)
    session.title = clean
    db.flush()
    hooks.on_title(db, session)  # the search index, same transaction
    log.info("session.renamed", session_id=session.id)
    return session


def cancel_session(db: DbSession, user_id: str, session_id: str) -> RecordingSession:
    session = get_session(db, user_id, session_id, for_update=True)
    job = current_job(db, session)
    if session.status not in UNFINISHED_STATUSES or job is None:
        raise Conflict(f"session {session_id} is {session.status}; only queued or processing "
                       "sessions can be cancelled")
    jobs.cancel_job(db, job)
    mirror_job(session, job)
    log.info("session.cancelled", session_id=session.id, job_id=job.id)
    return session


def retry_session(db: DbSession, rt: Runtime, user_id: str, session_id: str) -> RecordingSession:
    session = get_session(db, user_id, session_id, for_update=True)
    if session.status not in RETRYABLE_STATUSES:
        raise Conflict(f"session {session_id} is {session.status}; only failed or cancelled "
                       "sessions can be retried")
    if not has_source(session):
        raise Gone(f"the source audio of session {session_id} was deleted by the retention "
                   "policy, so it cannot be transcribed again")
    enforcement.check_transcribe(db, rt, user_id, seconds=session.duration_seconds)
    job = jobs.create_job(db, rt, kind="transcribe", user_id=user_id, owner_kind=OWNER_KIND,
                          owner_id=session.id)
    session.current_job_id = job.id
    session.error = None
    session.error_stage = None
    mirror_job(session, job)
    log.info("session.retried", session_id=session.id, job_id=job.id)
    return session


def delete_session(db: DbSession, rt: Runtime, user_id: str, session_id: str) -> None:
    """Delete the row with its jobs (and its episodes' jobs), then its artifacts once the
    commit stands. Everything made from a session lives under its store prefix."""
    session = get_session(db, user_id, session_id, for_update=True)
    jobs.delete_jobs_of(db, rt.registry, OWNER_KIND, session.id)
    prefix = keys.session_prefix(user_id, session_id)
    db.delete(session)  # episodes go with it (ON DELETE CASCADE)
    store = rt.store
    after_commit(db, lambda: store.delete_prefix(prefix))
    log.info("session.deleted", session_id=session_id, user_id=user_id)


# --- what counts against the plan (usage meters, wired in tapeworks.runtime) ----------------
def pending_seconds(db: DbSession, user_id: str) -> float:
    """Audio seconds of this user's sessions whose transcription is queued or running."""
    total = db.scalar(
        select(func.coalesce(func.sum(RecordingSession.duration_seconds), 0.0))
        .where(RecordingSession.user_id == user_id,
               RecordingSession.status.in_(UNFINISHED_STATUSES))
    )
    return float(total or 0.0)


def storage_bytes(db: DbSession, user_id: str) -> int:
    """Bytes this user keeps in recordings: source audio (purged sources no longer count)
    and every stored transcript version."""
    audio = db.scalar(
        select(func.coalesce(func.sum(RecordingSession.size_bytes), 0))
        .where(RecordingSession.user_id == user_id, RecordingSession.source_purged_at.is_(None))
    )
    transcripts = db.scalar(
        select(func.coalesce(func.sum(RecordingSession.transcript_bytes), 0))
        .where(RecordingSession.user_id == user_id)
    )
    return int(audio or 0) + int(transcripts or 0)


def has_active_job(db: DbSession, session_id: str) -> bool:
    return jobs.active_job_exists(db, OWNER_KIND, session_id)


# --- transcripts ---------------------------------------------------------------------------
def load_transcript(rt: Runtime, session: RecordingSession, version: int | None = None) -> Transcript:
    if session.transcript_version <= 0 or not session.transcript_key:
        raise Conflict(f"session {session.id} has no transcript yet (status {session.status})")
    if version is not None and not 1 <= version <= session.transcript_version:
        raise NotFound(f"transcript version {version} does not exist; versions are 1 to "
                       f"{session.transcript_version}")
    key = keys.session_transcript(session.user_id, session.id, version or session.transcript_version)
    data = rt.store.get_bytes(key)
    return Transcript.model_validate_json(data)


def write_transcript(rt: Runtime, user_id: str, session_id: str, transcript: Transcript) -> str:
    """Write version N and the current copy; same keys on a retry (idempotent)."""
    return write_transcript_to(rt.store, user_id, session_id, transcript)


def write_transcript_to(store: Any, user_id: str, session_id: str, transcript: Transcript) -> str:
    return write_transcript_sized(store, user_id, session_id, transcript)[0]


def write_transcript_sized(store: Any, user_id: str, session_id: str,
                           transcript: Transcript) -> tuple[str, int]:
    """Write version N and the current copy: the current key, and the version's bytes
    (what it adds to the session's `transcript_bytes`, counted in the user's storage)."""
    body = transcript.model_dump_json().encode()
    store.put_bytes(keys.session_transcript(user_id, session_id, transcript.version), body,
                    content_type="application/json")
    current = keys.session_transcript(user_id, session_id)
    store.put_bytes(current, body, content_type="application/json")
    return current, len(body)


def edit_transcript(
    db: DbSession, rt: Runtime, user_id: str, session_id: str, ops: list[dict[str, Any]],
) -> Transcript:
    """Apply edits as a new transcript version; the previous one stays readable."""
    session = get_session(db, user_id, session_id, for_update=True)
    current = load_transcript(rt, session)
    edited = apply_edits(current, ops)
    return save_transcript_version(db, rt, session, edited,
                                   history.Entry.edit(session.transcript_version, _summary(ops)))


def _summary(ops: list[dict[str, Any]]) -> str:
    names = {"edit_text": "text edited", "edit_word": "a word edited", "split_segment": "split",
             "merge_segments": "merged", "delete_segment": "segment deleted",
             "add_speaker": "speaker added", "update_speaker": "speaker renamed",
             "reassign_segment": "speaker changed"}
    seen: list[str] = []
    for op in ops:
        what = names.get(str(op.get("op")), "edited")
        if what not in seen:
            seen.append(what)
    return ", ".join(seen) or "edited"


def save_transcript_version(db: DbSession, rt: Runtime, session: RecordingSession,
                            transcript: Transcript, entry: history.Entry) -> Transcript:
    """Store `transcript` as the session's next version (its history entry beside it),
    refusing if another request wrote a version since `session` was read."""
    user_id, session_id = session.user_id, session.id
    edited = transcript.model_copy(update={"version": session.transcript_version + 1})
    _key, added = write_transcript_sized(rt.store, user_id, session_id, edited)
    added += history.record(rt.store, user_id, session_id, edited.version, entry)
    res = db.execute(
        update(RecordingSession)
        .where(RecordingSession.id == session.id,
               RecordingSession.transcript_version == session.transcript_version)
        .values(transcript_version=edited.version, transcript_text=edited.text(),
                transcript_bytes=RecordingSession.transcript_bytes + added,
                updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if res.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("the transcript was changed by another request; reload and try again")
    db.refresh(session)
    rt.session_hooks.on_transcript(db, session, edited)  # the search index, same transaction
    return edited


VERSIONS_LISTED = 50


def transcript_versions(rt: Runtime, session: RecordingSession) -> dict[str, Any]:
    """The last versions (newest first) with how each came to be, and whether undo and redo
    are possible from the current one."""
    if session.transcript_version <= 0:
        raise Conflict("this recording has no transcript yet; it can be edited once it is "
                       "transcribed")
    entries = history.load(rt.store, session.user_id, session.id)
    current = session.transcript_version
    first = max(1, current - VERSIONS_LISTED + 1)
    listed = []
    for v in range(current, first - 1, -1):
        e = history.entry_of(entries, v)
        listed.append({"version": v, "kind": e.kind, "summary": e.summary,
                       "restored_from": e.restored_from, "created_at": e.created_at,
                       "current": v == current})
    now = history.entry_of(entries, current)
    return {"current_version": current, "can_undo": now.undo_to is not None,
            "can_redo": now.redo_to is not None, "undo_to": now.undo_to,
            "redo_to": now.redo_to, "versions": listed}


def step_transcript(db: DbSession, rt: Runtime, user_id: str, session_id: str,
                    which: str) -> tuple[Transcript, int]:
    """Undo or redo: a new version equal to the one undo (redo) leads to; answers it and
    the version it repeats."""
    session = get_session(db, user_id, session_id, for_update=True)
    if session.transcript_version <= 0:
        raise Conflict("this recording has no transcript yet")
    entries = history.load(rt.store, user_id, session_id)
    step = (history.undo_entry if which == "undo" else history.redo_entry)(
        entries, session.transcript_version)
    if step is None:
        raise Conflict("there is nothing to undo" if which == "undo" else "there is nothing to redo")
    target, entry = step
    return save_transcript_version(db, rt, session, load_transcript(rt, session, target),
                                   entry), target


def restore_transcript(db: DbSession, rt: Runtime, user_id: str, session_id: str,
                       version: int) -> tuple[Transcript, int]:
    """Go back to `version` from the list: a new version equal to it (undo returns)."""
    session = get_session(db, user_id, session_id, for_update=True)
    old = load_transcript(rt, session, version)
    return save_transcript_version(db, rt, session, old,
                                   history.restore_entry(session.transcript_version, version)), version


def has_source(session: RecordingSession) -> bool:
    """Whether the recording is still there to transcribe or produce from: its file, or
    for a multitrack session its tracks (the mixdown is made from them)."""
    return session.source_purged_at is None and (bool(session.source_key) or session.track_count > 0)


def source_info(rt: Runtime, session: RecordingSession) -> tuple[str, int]:
    if session.source_purged_at is None and not session.source_key and session.track_count > 0:
        raise Conflict("the tracks of this recording are mixed for the player while it is "
                       "transcribed; try again when the transcription is done")
    if session.source_purged_at is not None or not session.source_key:
        raise Gone(f"the source audio of session {session.id} was deleted by the retention policy; "
                   "the transcript is still available")
    head = rt.store.head(session.source_key)
    if head is None:
        log.error("session.source_missing", session_id=session.id, key=session.source_key)
        raise ArtifactMissing(f"the source audio of session {session.id} is missing from "
                              "storage")
    return session.source_key, head.size


# --- waveform (the cut editor's picture of the source) ----------------------------------------
OVERVIEW_BUCKETS_PER_SECOND = 50
OVERVIEW_MAX_BUCKETS = 6000
DETAIL_MAX_SECONDS = 120.0
DETAIL_MAX_BUCKETS = 4000


@dataclass(frozen=True)
class WaveformSource:
    """What drawing a session's waveform needs, copied out of a short read transaction:
    decoding the source then runs with no database session open (rule 5)."""

    user_id: str
    session_id: str
    source_key: str
    duration: float


def waveform_source(db: DbSession, rt: Runtime, user_id: str, session_id: str) -> WaveformSource:
    session = get_session(db, user_id, session_id)
    key, _size = source_info(rt, session)
    duration = float(session.duration_seconds or 0.0)
    if duration <= 0:
        raise Conflict("this recording has no length yet; try again when it has been read")
    return WaveformSource(session.user_id, session.id, key, duration)


def waveform(rt: Runtime, src: WaveformSource, *, start: float | None = None,
             end: float | None = None, buckets: int | None = None) -> Peaks:
    """Peaks of the source audio: the whole recording (computed once, kept in the store
    next to the source, which never changes) or a span of at most two minutes in more
    detail (decoded on demand). Memory stays bounded whatever the recording's length
    (`compute_peaks` folds frames into the buckets as they are decoded)."""
    detail = start is not None or end is not None
    cache = keys.session_waveform(src.user_id, src.session_id)
    if detail:
        lo = max(0.0, start or 0.0)
        hi = min(src.duration, end if end is not None else lo + DETAIL_MAX_SECONDS)
        if not hi > lo:
            raise ValidationFailed("the span to draw is empty: 'end' must be after 'start' "
                                   "and inside the recording")
        if hi - lo > DETAIL_MAX_SECONDS + 1e-6:
            raise ValidationFailed(f"a detailed waveform covers at most "
                                   f"{DETAIL_MAX_SECONDS:.0f} seconds; ask for a shorter span")
        n = min(DETAIL_MAX_BUCKETS, buckets or 1000)
    else:
        if rt.store.exists(cache):
            doc = json.loads(rt.store.get_bytes(cache))
            return Peaks(start=float(doc["start"]), bucket_seconds=float(doc["bucket_seconds"]),
                         peaks=[float(v) for v in doc["peaks"]])
        lo, hi = 0.0, src.duration
        n = max(1, min(OVERVIEW_MAX_BUCKETS, math.ceil(src.duration * OVERVIEW_BUCKETS_PER_SECOND)))
    scratch = rt.settings.scratch_dir / "waveforms"
    scratch.mkdir(parents=True, exist_ok=True)
    local = scratch / f"{src.session_id}-{new_id()}{Path(src.source_key).suffix}"
    try:
        rt.store.download_to(src.source_key, local)
        peaks = compute_peaks(local, duration=src.duration, buckets=n, start=lo, end=hi)
    finally:
        local.unlink(missing_ok=True)
    if not detail:
        rt.store.put_bytes(cache, json.dumps({
            "start": peaks.start, "bucket_seconds": peaks.bucket_seconds,
            "peaks": peaks.peaks}).encode(), content_type="application/json")
    return peaks


def refuse_over_limit(rec: NewRecording) -> None:
    """Never accept a file the probe did not decode in full (the precheck refuses it first,
    naming the limit; this holds even if the limits were to disagree)."""
    if rec.info.over_limit:
        raise QuotaExceeded("the recording is longer than your plan allows per recording",
                            details={"limit_type": "max_recording_seconds"})


def new_session_id() -> str:
    return new_id()


# --- accepting recordings ------------------------------------------------------------------
def accept_recording(
    rt: Runtime, principal: Principal, *, path: Path, filename: str, size_bytes: int,
    title: str | None, language: str | None, speakers: str | None, idempotency_key: str | None,
    client_id: str | None = None, vocabulary: str | None = None,
) -> RecordingSession:
    """Probe, check the plan, store the source, then create the session and its job.

    Rule 4: the source is in the store before any row says it exists; whatever refuses the
    recording after that (quota, database) removes the stored object again.
    """
    # the plan's length limit first: a recording longer than it is never decoded in full
    rec = probe_upload(path, filename,
                       max_seconds=enforcement.recording_seconds_limit(rt, principal))
    info = rec.info
    enforcement.precheck_upload(rt, principal, size_bytes=size_bytes, seconds=info.duration_seconds,
                                at_least=rec.length_is_lower_bound)
    refuse_over_limit(rec)
    lang, n_speakers = validate_options(language, speakers)
    given_terms = parse_vocabulary(vocabulary) if vocabulary else None
    clean_title = (clean_text(title, 300) or clean_text(filename.rsplit(".", 1)[0], 300)
                   or "Untitled recording")
    session_id = new_session_id()
    key = store_source(rt, principal.user_id, session_id, rec)

    def _create(db: DbSession) -> RecordingSession:
        if idempotency_key:
            found = find_by_idempotency_key(db, principal.user_id, idempotency_key)
            if found is not None:
                return found
        enforcement.check_upload(db, rt, principal, size_bytes=size_bytes,
                                 seconds=info.duration_seconds)
        return create_session(db, rt, user_id=principal.user_id, session_id=session_id,
                              source_key=key, rec=rec, title=clean_title, language=lang,
                              num_speakers=n_speakers, idempotency_key=idempotency_key,
                              client_id=(client_id or "").strip() or None,
                              vocabulary=given_terms if given_terms else
                              users.vocabulary(db, principal.user_id))

    try:
        session = rt.database.run(_create)
    except BaseException:
        rt.store.delete(key)
        raise
    if session.id != session_id:  # an idempotent replay won the race
        rt.store.delete(key)
    return session


DIRECT_UPLOAD_SECONDS = 3600


def _direct_key(user_id: str, upload_id: str) -> str:
    return f"{keys.user_prefix(user_id)}uploads/{keys.validate_id(upload_id, 'upload id')}/source"


def start_direct_upload(rt: Runtime, principal: Principal, *, filename: str, size_bytes: int,
                        content_type: str | None) -> dict[str, Any]:
    limit = enforcement.upload_byte_limit(rt, principal)
    if size_bytes > limit:
        raise PayloadTooLarge(f"the file is {size_bytes} bytes; the limit is {limit} bytes",
                              details={"limit_bytes": limit})
    upload_id = new_id()
    url = rt.store.presigned_put_url(_direct_key(principal.user_id, upload_id),
                                     DIRECT_UPLOAD_SECONDS, content_type)
    if url is None:
        raise Conflict("direct uploads need an S3 object store; send the file to POST "
                       "/api/v1/sessions instead")
    headers = {"Content-Type": content_type} if content_type else {}
    return {"upload_id": upload_id, "url": url, "headers": headers,
            "expires_at": utcnow() + timedelta(seconds=DIRECT_UPLOAD_SECONDS),
            "complete_url": f"/api/v1/sessions/uploads/{upload_id}/complete"}


def complete_direct_upload(rt: Runtime, principal: Principal, upload_id: str, *, filename: str,
                           title: str | None, language: str | None, speakers: str | None,
                           vocabulary: str | None = None) -> RecordingSession:
    key = _direct_key(principal.user_id, upload_id)
    head = rt.store.head(key)
    if head is None:
        raise NotFound(f"upload {upload_id} not found: PUT the file to the URL first")
    limit = enforcement.upload_byte_limit(rt, principal)
    scratch = rt.settings.scratch_dir / "uploads" / f"direct-{upload_id}"
    try:
        if head.size > limit:
            raise PayloadTooLarge(f"the file is {head.size} bytes; the limit is {limit} bytes",
                                  details={"limit_bytes": limit})
        scratch.parent.mkdir(parents=True, exist_ok=True)
        rt.store.download_to(key, scratch)
        return accept_recording(rt, principal, path=scratch, filename=clean_filename(filename),
                                size_bytes=head.size, title=title, language=language,
                                speakers=speakers, idempotency_key=f"direct:{upload_id}",
                                vocabulary=vocabulary)
    finally:
        scratch.unlink(missing_ok=True)
        rt.store.delete(key)  # accepted (copied to the session) or refused: never left behind


# --- vocabulary (terms the speech engine is told to expect; parsed in users.service) ------
parse_vocabulary = users.parse_vocabulary


def engine_hotwords(vocabulary: tuple[str, ...] | list[str], marker_hotwords: str | None) -> str | None:
    """What the speech engine is told to expect: the vocabulary, then the edit marker."""
    parts = [*vocabulary, *([marker_hotwords] if marker_hotwords else [])]
    return ", ".join(parts) if parts else None


# --- speakers' voices (embeddings kept for known voices, never the audio) --------------------
EMBEDDING_SIZE = 256


def encode_embedding(vector: Any) -> bytes:
    import numpy as np

    v = np.asarray(vector, dtype="<f4").reshape(-1)
    if v.size != EMBEDDING_SIZE:
        raise ValueError(f"a voice embedding has {EMBEDDING_SIZE} values, not {v.size}")
    return v.tobytes()


def decode_embedding(data: bytes) -> Any:
    import numpy as np

    return np.frombuffer(data, dtype="<f4").astype(np.float64)


def store_speaker_voices(db: DbSession, session_id: str, voices: Any) -> None:
    """The transcript speakers' embeddings (a new transcription replaces the old ones)."""
    from tapeworks.sessions.models import SessionSpeaker

    db.execute(sql_delete(SessionSpeaker).where(SessionSpeaker.session_id == session_id))
    for v in voices:
        db.add(SessionSpeaker(session_id=session_id, speaker_id=v.speaker_id,
                              embedding=encode_embedding(v.embedding), speech_seconds=v.seconds))
    db.flush()


def speaker_embeddings(db: DbSession, session_id: str) -> dict[str, tuple[Any, float]]:
    """speaker id -> (unit embedding, seconds of speech) of a transcribed session."""
    from tapeworks.sessions.models import SessionSpeaker

    rows = db.scalars(select(SessionSpeaker).where(SessionSpeaker.session_id == session_id))
    return {r.speaker_id: (decode_embedding(r.embedding), r.speech_seconds) for r in rows}


def relabel_speakers(db: DbSession, rt: Runtime, session: RecordingSession,
                     change: Any) -> Transcript | None:
    """Apply `change(transcript) -> transcript | None` to the current transcript as a new
    version (None or an equal transcript: nothing written). The session row is locked."""
    current = load_transcript(rt, session)
    changed = change(current)
    if changed is None or changed.speakers == current.speakers:
        return None
    edited = changed.model_copy(update={"version": session.transcript_version + 1})
    _key, added = write_transcript_sized(rt.store, session.user_id, session.id, edited)
    session.transcript_version = edited.version
    session.transcript_bytes = (session.transcript_bytes or 0) + added
    db.flush()
    rt.session_hooks.on_transcript(db, session, edited)
    return edited
