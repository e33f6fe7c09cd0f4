"""The usage ledger: charged once per successful job, never on failure, never twice."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session as DbSession

from tapeworks.logging import get_logger
from tapeworks.plans.models import UsageEntry
from tapeworks.queue.models import Job

log = get_logger("tapeworks.usage")


def charge_for_job(db: DbSession, job: Job, *, kind: str, seconds: float,
                   session_id: str | None = None, episode_id: str | None = None) -> UsageEntry:
    """Record usage for a job in the job's save transaction. Idempotent per (job, kind)."""
    key = f"job:{job.id}:{kind}"
    existing = db.scalar(select(UsageEntry).where(UsageEntry.idempotency_key == key))
    if existing is not None:
        return existing
    assert job.user_id is not None, "usage is charged to a user's job"
    entry = UsageEntry(user_id=job.user_id, session_id=session_id, episode_id=episode_id,
                       job_id=job.id, kind=kind, audio_seconds=round(float(seconds), 3),
                       idempotency_key=key)
    db.add(entry)
    db.flush()
    log.info("usage.charged", user_id=job.user_id, job_id=job.id, kind=kind, seconds=entry.audio_seconds)
    return entry


def used_seconds(db: DbSession, user_id: str, since: datetime, kinds: tuple[str, ...] = (
        "transcription", "adjustment")) -> float:
    total = db.scalar(
        select(func.coalesce(func.sum(UsageEntry.audio_seconds), 0.0))
        .where(UsageEntry.user_id == user_id, UsageEntry.created_at >= since,
               UsageEntry.kind.in_(kinds))
    )
    return float(total or 0.0)
