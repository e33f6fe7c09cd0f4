"""Retention: delete source audio that no work needs any more, never earlier (rule 8).

A source is deleted only when its session is `completed`, no job is queued or running on
it, no episode made from it is unfinished or published in a show (scheduled included), and
it was completed longer ago than the plan's `retention_days_source_audio`. Everything else
is kept and reported with a reason: uploaded, queued and processing sessions (work
pending), failed and cancelled ones (they can be retried), sessions with a published
episode (``published``), sessions of users whose plan is missing from the catalogue (fail
closed), and plans that keep audio forever. Episode audio itself is never purged here.

Crash safety: **mark, then delete, then clear.** One short transaction per session re-checks
every condition under the session's lock and sets `source_purged_at` (from then on the API
says the audio is gone and retry refuses with that reason); after the commit the object is
deleted from the store (idempotent), and a second short transaction clears `source_key`.
A crash after the mark leaves a row with `source_purged_at` set and `source_key` still set;
the next run finds exactly those rows and finishes them. The opposite order (delete, then
mark) could leave a row that says the audio exists when it does not, which rule 4 forbids.

Transcript retention (`retention_days_transcripts`) is reported (`transcripts_expired`)
but transcripts are not deleted.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session as DbSession

from tapeworks.db.base import utcnow
from tapeworks.episodes.models import EPISODE_STATUSES_RELEASING_SOURCE, Episode
from tapeworks.errors import QuotaExceeded
from tapeworks.logging import get_logger
from tapeworks.plans.catalogue import Catalogue, Plan
from tapeworks.sessions.models import UNFINISHED_STATUSES, RecordingSession
from tapeworks.sessions.service import has_active_job
from tapeworks.shows.models import Publication
from tapeworks.storage import keys
from tapeworks.users.models import User

if TYPE_CHECKING:
    from tapeworks.runtime import Runtime

log = get_logger("tapeworks.retention")

# --- what still needs a source ------------------------------------------------------------------
def has_unfinished_episode(db: DbSession, session_id: str) -> bool:
    """True when an episode made from this session is not completed or cancelled (an episode
    in any other state, queued, processing, failed and retryable, still needs the source)."""
    n = db.scalar(select(func.count()).select_from(Episode).where(
        Episode.session_id == session_id,
        Episode.status.not_in(EPISODE_STATUSES_RELEASING_SOURCE)))
    return bool(n)


def has_published_episode(db: DbSession, session_id: str) -> bool:
    """True while an episode made from this session is published in a show (scheduled
    included): its audio, and the source it was made from, stay."""
    n = db.scalar(select(func.count()).select_from(Publication)
                  .join(Episode, Episode.id == Publication.episode_id)
                  .where(Episode.session_id == session_id, Publication.state == "published"))
    return bool(n)


def source_needed(db: DbSession, session_id: str) -> bool:
    """Work still pending on this session's source audio (any job, any unfinished episode)."""
    return has_active_job(db, session_id) or has_unfinished_episode(db, session_id)


# --- the decision (pure) ----------------------------------------------------------------------------
@dataclass(frozen=True)
class SourceState:
    session_id: str
    user_id: str
    status: str
    completed_at: datetime | None
    plan_name: str
    source_needed: bool
    published: bool = False


@dataclass(frozen=True)
class Verdict:
    delete: bool
    code: str
    reason: str


def decide(state: SourceState, plans: Catalogue, now: datetime) -> Verdict:
    if state.status in UNFINISHED_STATUSES:
        return Verdict(False, "work_pending", f"transcription not finished (status {state.status})")
    if state.status == "failed":
        return Verdict(False, "failed", "transcription failed; kept so it can be retried")
    if state.status == "cancelled":
        return Verdict(False, "cancelled", "transcription was cancelled; kept so it can be retried")
    if state.status != "completed":
        return Verdict(False, "unknown_status", f"status {state.status!r} is not known to retention")
    if state.source_needed:
        return Verdict(False, "work_pending", "an episode or job still needs the source audio")
    if state.published:
        return Verdict(False, "published", "an episode made from it is published; kept while "
                       "it is")
    try:
        plan: Plan = plans.get_plan(state.plan_name)
    except QuotaExceeded:
        return Verdict(False, "plan_missing", f"plan {state.plan_name!r} is not in the catalogue; "
                       "kept (retention fails closed)")
    days = plan.retention_days_source_audio
    if days is None:
        return Verdict(False, "kept_by_plan", f"the {plan.name} plan keeps source audio")
    if state.completed_at is None:
        return Verdict(False, "no_completion_time", "completed but without a completion time")
    expires = state.completed_at + timedelta(days=days)
    if now < expires:
        return Verdict(False, "not_expired", f"kept until {expires:%Y-%m-%d %H:%M} UTC "
                       f"({plan.name} plan: {days} days)")
    age = (now - state.completed_at).days
    return Verdict(True, "expired", f"completed {age} days ago; the {plan.name} plan keeps "
                   f"source audio {days} days")


# --- the run ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PurgeItem:
    session_id: str
    user_id: str
    code: str
    reason: str


@dataclass
class PurgeReport:
    dry_run: bool
    now: datetime
    deleted: list[PurgeItem] = field(default_factory=list)
    skipped: list[PurgeItem] = field(default_factory=list)
    objects_deleted: int = 0  # store objects removed (this run's and unfinished earlier runs')
    transcripts_expired: int = 0  # reported only: transcripts are not deleted
    errors: list[str] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, Any]:
        return {
            "deleted": len(self.deleted),
            "skipped": len(self.skipped),
            "skipped_by_reason": dict(Counter(i.code for i in self.skipped)),
            "objects_deleted": self.objects_deleted,
            "transcripts_expired": self.transcripts_expired,
            "errors": len(self.errors),
        }


def _state(db: DbSession, s: RecordingSession, plan_name: str) -> SourceState:
    return SourceState(s.id, s.user_id, s.status, s.completed_at, plan_name,
                       source_needed(db, s.id), has_published_episode(db, s.id))


def _candidates(db: DbSession) -> list[tuple[str, str]]:
    rows = db.execute(
        select(RecordingSession.id, User.plan)
        .join(User, User.id == RecordingSession.user_id)
        .where(RecordingSession.source_purged_at.is_(None),
               RecordingSession.source_key.is_not(None))
        .order_by(RecordingSession.created_at, RecordingSession.id)
    ).all()
    return [(r[0], r[1]) for r in rows]


def _evaluate(db: DbSession, plans: Catalogue, session_id: str, now: datetime,
              lock: bool) -> tuple[RecordingSession | None, Verdict | None]:
    stmt = (select(RecordingSession, User.plan).join(User, User.id == RecordingSession.user_id)
            .where(RecordingSession.id == session_id))
    if lock and db.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(of=RecordingSession)
    row = db.execute(stmt).first()
    if row is None:
        return None, None
    s, plan_name = row
    if s.source_purged_at is not None or not s.source_key:
        return s, None
    return s, decide(_state(db, s, plan_name), plans, now)


def _mark(rt: Runtime, session_id: str, now: datetime) -> tuple[RecordingSession | None, Verdict | None]:
    """Re-check under the session's lock and mark the source purged, in one transaction."""
    def run(db: DbSession) -> tuple[RecordingSession | None, Verdict | None]:
        s, verdict = _evaluate(db, rt.plans, session_id, now, lock=True)
        if s is not None and verdict is not None and verdict.delete:
            s.source_purged_at = now
        return s, verdict

    return rt.database.run(run)


def _finish_deletions(rt: Runtime, report: PurgeReport) -> None:
    """Delete the objects of marked sources, then clear their keys (idempotent)."""
    with rt.database.transaction(write=False) as db:
        pending = db.execute(
            select(RecordingSession.id, RecordingSession.source_key, RecordingSession.user_id,
                   RecordingSession.track_count)
            .where(RecordingSession.source_purged_at.is_not(None),
                   RecordingSession.source_key.is_not(None))
        ).all()
    for session_id, key, user_id, track_count in pending:
        assert key is not None
        try:
            if track_count:  # a multitrack session's source is its tracks and their mix
                rt.store.delete_prefix(keys.session_tracks_prefix(user_id, session_id))
            rt.store.delete(key)
        except Exception as exc:  # keep the key: the next run tries again
            report.errors.append(f"session {session_id}: deleting {key} failed: {exc}"[:300])
            log.error("retention.delete_failed", session_id=session_id, key=key, error=str(exc)[:300])
            continue
        rt.database.run(partial(_clear_key, session_id=session_id, key=key))
        report.objects_deleted += 1


def _clear_key(db: DbSession, *, session_id: str, key: str) -> None:
    """After the object is gone: the row no longer names it (only rows already marked)."""
    db.execute(
        update(RecordingSession)
        .where(RecordingSession.id == session_id, RecordingSession.source_key == key,
               RecordingSession.source_purged_at.is_not(None))
        .values(source_key=None, updated_at=utcnow())
        .execution_options(synchronize_session=False))


def _count_expired_transcripts(db: DbSession, plans: Catalogue, now: datetime) -> int:
    n = 0
    for plan in plans.values():
        if plan.retention_days_transcripts is None:
            continue
        cutoff = now - timedelta(days=plan.retention_days_transcripts)
        n += int(db.scalar(
            select(func.count()).select_from(RecordingSession)
            .join(User, User.id == RecordingSession.user_id)
            .where(User.plan == plan.name, RecordingSession.transcript_key.is_not(None),
                   RecordingSession.completed_at < cutoff)) or 0)
    return n


def purge(rt: Runtime, *, now: datetime | None = None, dry_run: bool = False) -> PurgeReport:
    """One retention pass. Safe to run from several processes at once."""
    now = now or utcnow()
    report = PurgeReport(dry_run=dry_run, now=now)
    with rt.database.transaction(write=False) as db:
        candidates = _candidates(db)
        report.transcripts_expired = _count_expired_transcripts(db, rt.plans, now)
    for session_id, _plan in candidates:
        if dry_run:
            with rt.database.transaction(write=False) as db:
                s, verdict = _evaluate(db, rt.plans, session_id, now, lock=False)
        else:
            s, verdict = _mark(rt, session_id, now)
        if s is None or verdict is None:
            continue  # deleted or purged meanwhile
        item = PurgeItem(s.id, s.user_id, verdict.code, verdict.reason)
        (report.deleted if verdict.delete else report.skipped).append(item)
    if not dry_run:
        _finish_deletions(rt, report)
    log.info("retention.purged", dry_run=dry_run, **report.counts)
    return report
