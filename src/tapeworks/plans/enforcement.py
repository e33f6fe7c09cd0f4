"""Plan enforcement: atomic under concurrent requests, and closed on failure (rule 10).

`check_upload` runs inside the transaction that creates the session, after taking the
user's lock (PostgreSQL: `SELECT ... FOR UPDATE` on the user row; SQLite: the write
transaction began with BEGIN IMMEDIATE), so no two uploads can both pass the last free
minute. Any error while checking refuses the action with a clear message.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session as DbSession

from tapeworks.db.base import utcnow
from tapeworks.errors import PayloadTooLarge, QuotaExceeded, ServiceUnavailable, TapeworksError
from tapeworks.plans import usage
from tapeworks.plans.catalogue import Plan, get_plan
from tapeworks.queue.models import Job
from tapeworks.sessions.models import RecordingSession
from tapeworks.users.models import User
from tapeworks.users.service import Principal

if TYPE_CHECKING:
    from tapeworks.runtime import Runtime

T = TypeVar("T")


def period_start(now: datetime | None = None) -> datetime:
    now = now or utcnow()
    return datetime(now.year, now.month, 1, tzinfo=UTC)


def period_reset(now: datetime | None = None) -> datetime:
    now = now or utcnow()
    return datetime(now.year + (now.month == 12), now.month % 12 + 1, 1, tzinfo=UTC)


@contextmanager
def failing_closed(action: str) -> Iterator[None]:
    """Turn any failure of the check itself into a refusal that says so."""
    try:
        yield
    except TapeworksError:
        raise
    except SQLAlchemyError as exc:
        raise ServiceUnavailable(f"the plan check for {action} could not run (database: "
                                 f"{type(exc).__name__}); the action was refused, try again") from exc
    except Exception as exc:
        raise ServiceUnavailable(f"the plan check for {action} could not run ({type(exc).__name__}); "
                                 "the action was refused") from exc


@dataclass(frozen=True)
class Usage:
    used_seconds: float
    pending_seconds: float

    @property
    def total(self) -> float:
        return self.used_seconds + self.pending_seconds


def pending_seconds(db: DbSession, user_id: str) -> float:
    """Audio seconds of this user's sessions whose transcription is queued or running."""
    total = db.scalar(
        select(func.coalesce(func.sum(RecordingSession.duration_seconds), 0.0))
        .where(RecordingSession.user_id == user_id,
               RecordingSession.status.in_(("uploaded", "queued", "processing")))
    )
    return float(total or 0.0)


def monthly_usage(db: DbSession, user_id: str) -> Usage:
    return Usage(usage.used_seconds(db, user_id, period_start()), pending_seconds(db, user_id))


def plan_for(db: DbSession, user_id: str, *, lock: bool = False) -> Plan:
    stmt = select(User.plan).where(User.id == user_id)
    if lock and db.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    name = db.scalar(stmt)
    if name is None:
        raise QuotaExceeded("the account no longer exists", details={"limit_type": "plan_missing"})
    return get_plan(name)


def upload_byte_limit(rt: Runtime, principal: Principal) -> int:
    with failing_closed("upload"):
        return min(rt.settings.max_upload_bytes, get_plan(principal.plan).max_file_bytes)


def precheck_upload(rt: Runtime, principal: Principal, *, size_bytes: int, seconds: float) -> None:
    """Limits that need no database: file size and recording length."""
    with failing_closed("upload"):
        plan = get_plan(principal.plan)
        limit = min(rt.settings.max_upload_bytes, plan.max_file_bytes)
        if size_bytes > limit:
            raise PayloadTooLarge(f"the file is {size_bytes} bytes; your plan allows {limit}",
                                  details={"limit_bytes": limit})
        if plan.max_recording_seconds is not None and seconds > plan.max_recording_seconds:
            raise QuotaExceeded(
                f"the recording is {seconds / 60:.1f} minutes long; the {plan.name} plan allows "
                f"{plan.max_recording_seconds / 60:.0f} minutes per recording",
                details={"limit_type": "max_recording_seconds", "limit": plan.max_recording_seconds,
                         "current": round(seconds, 1)})


def check_upload(db: DbSession, rt: Runtime, principal: Principal, *, size_bytes: int,
                 seconds: float) -> None:
    """Atomic monthly-seconds check, inside the transaction that inserts the session."""
    with failing_closed("upload"):
        plan = plan_for(db, principal.user_id, lock=True)
        if plan.monthly_audio_seconds is None:
            return
        u = monthly_usage(db, principal.user_id)
        if u.total + seconds > plan.monthly_audio_seconds:
            left = max(0.0, plan.monthly_audio_seconds - u.total)
            raise QuotaExceeded(
                f"this recording is {seconds / 60:.1f} minutes but only {left / 60:.1f} minutes of "
                f"your {plan.monthly_audio_seconds / 60:.0f} monthly minutes are left "
                f"(including recordings still being transcribed); the quota resets on "
                f"{period_reset():%Y-%m-%d}",
                details={"limit_type": "monthly_audio_seconds", "limit": plan.monthly_audio_seconds,
                         "current": round(u.total, 1), "reset_at": period_reset().isoformat()})


def check_export(db: DbSession, principal: Principal, fmt: str) -> None:
    with failing_closed("export"):
        plan = plan_for(db, principal.user_id)
        if fmt not in plan.export_formats:
            raise QuotaExceeded(f"the {plan.name} plan does not include {fmt} export; it allows "
                                f"{', '.join(plan.export_formats)}",
                                details={"limit_type": "export_formats"})


def check_episode(db: DbSession, principal: Principal) -> None:
    with failing_closed("episode creation"):
        plan = plan_for(db, principal.user_id, lock=True)
        if not plan.episodes_enabled:
            raise QuotaExceeded(f"the {plan.name} plan does not include episode production",
                                details={"limit_type": "episodes_enabled"})


def running_jobs(db: DbSession, user_id: str) -> int:
    return int(db.scalar(select(func.count()).select_from(Job)
                         .where(Job.user_id == user_id, Job.status == "running")) or 0)


def may_start_job(db: DbSession, user_id: str) -> bool:
    """Concurrency limit, enforced when a worker claims (extra jobs wait in the queue)."""
    plan = plan_for(db, user_id)
    return running_jobs(db, user_id) < plan.max_concurrent_jobs


def guarded(action: str, fn: Callable[[], T]) -> T:
    with failing_closed(action):
        return fn()


__all__: list[Any] = ["check_episode", "check_export", "check_upload", "precheck_upload"]
