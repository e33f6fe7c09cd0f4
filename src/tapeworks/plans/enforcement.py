"""Plan enforcement: atomic under concurrent requests, and closed on failure (rule 10).

Every rule is a small pure function of a `Plan` and a `UsageSnapshot` that returns a
`Decision`; the checks below (which raise) and `POST /plan/validate-action` (which reports)
share them, so the answer the API gives is the rule the upload meets.

`check_upload` runs inside the transaction that creates the session, after taking the
user's lock (PostgreSQL: `SELECT ... FOR UPDATE` on the user row; SQLite: the write
transaction began with BEGIN IMMEDIATE), so no two uploads can both pass the last free
minute. Any error while checking refuses the action with a clear message.

Everything comes from the runtime passed in: the catalogue (`rt.plans`) and the usage
meters (`rt.meters`), through which the domains that hold recordings report what a user has
in flight and in store (wired in `tapeworks.runtime`, so this module imports no domain
above it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session as DbSession

from tapeworks.db.base import utcnow
from tapeworks.errors import PayloadTooLarge, QuotaExceeded, ServiceUnavailable, TapeworksError
from tapeworks.logging import get_logger
from tapeworks.plans import usage
from tapeworks.plans.catalogue import Plan
from tapeworks.queue.models import Job
from tapeworks.users.models import User
from tapeworks.users.service import Principal

if TYPE_CHECKING:
    from tapeworks.runtime import Runtime

log = get_logger("tapeworks.plans")


def period_start(now: datetime | None = None) -> datetime:
    """The billing period is the calendar month (UTC)."""
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
        log.error("plans.check_failed", action=action, error=f"{type(exc).__name__}: {exc}"[:300])
        raise ServiceUnavailable(f"the plan check for {action} could not run (the database "
                                 "could not be reached); the action was refused, try again",
                                 details={"limit_type": "check_unavailable"}) from exc
    except Exception as exc:
        log.error("plans.check_failed", action=action, error=f"{type(exc).__name__}: {exc}"[:300])
        raise ServiceUnavailable(f"the plan check for {action} could not run; the action was "
                                 "refused, try again", details={"limit_type": "check_unavailable"}
                                 ) from exc


# --- what a user has used ---------------------------------------------------------------------
@dataclass(frozen=True)
class UsageSnapshot:
    used_seconds: float  # charged in this billing period (ledger: transcription + adjustments)
    pending_seconds: float  # sessions still queued or being transcribed (charged on success)
    storage_bytes: int  # source audio held in the store
    running_jobs: int
    period_start: datetime
    reset_at: datetime

    @property
    def committed_seconds(self) -> float:
        return self.used_seconds + self.pending_seconds


@dataclass(frozen=True)
class UsageMeters:
    """What a user has in flight and in store, measured by the domains that hold it."""

    pending_seconds: Sequence[Callable[[DbSession, str], float]] = ()  # audio being transcribed
    storage_bytes: Sequence[Callable[[DbSession, str], int]] = ()  # bytes kept in the store


def running_jobs(db: DbSession, user_id: str) -> int:
    """Transcriptions and renders (the long pool) of this user running now."""
    return int(db.scalar(select(func.count()).select_from(Job)
                         .where(Job.user_id == user_id, Job.status == "running",
                                Job.pool == "long")) or 0)


def snapshot(db: DbSession, rt: Runtime, user_id: str, now: datetime | None = None) -> UsageSnapshot:
    now = now or utcnow()
    start = period_start(now)
    meters: UsageMeters = rt.meters
    return UsageSnapshot(
        used_seconds=usage.used_seconds(db, user_id, start),
        pending_seconds=float(sum(m(db, user_id) for m in meters.pending_seconds)),
        storage_bytes=int(sum(m(db, user_id) for m in meters.storage_bytes)),
        running_jobs=running_jobs(db, user_id),
        period_start=start,
        reset_at=period_reset(now),
    )


def plan_for(db: DbSession, rt: Runtime, user_id: str, *, lock: bool = False) -> Plan:
    """The user's plan, read from the database (optionally locking the user row)."""
    stmt = select(User.plan).where(User.id == user_id)
    if lock and db.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    name = db.scalar(stmt)
    if name is None:
        raise QuotaExceeded("the account no longer exists", details={"limit_type": "plan_missing"})
    return rt.plans.get_plan(name)


# --- decisions (pure) ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Limit:
    type: str
    current: Any
    limit: Any
    reset_at: datetime | None = None


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str | None
    limit: Limit | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def enforce(self) -> None:
        if self.allowed:
            return
        details: dict[str, Any] = dict(self.details)
        if self.limit is not None:
            details.setdefault("limit_type", self.limit.type)
            details.setdefault("limit", self.limit.limit)
            details.setdefault("current", self.limit.current)
            if self.limit.reset_at is not None:
                details.setdefault("reset_at", self.limit.reset_at.isoformat())
        if self.limit is not None and self.limit.type == "max_file_bytes":
            raise PayloadTooLarge(self.reason or "file too large",
                                  details={"limit_bytes": self.limit.limit, **details})
        raise QuotaExceeded(self.reason or "refused by the plan", details=details)


def allow(limit: Limit | None = None) -> Decision:
    return Decision(True, None, limit)


def refuse(reason: str, limit: Limit) -> Decision:
    return Decision(False, reason, limit)


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f}"


def decide_file_bytes(plan: Plan, size_bytes: int, hard_limit: int | None = None) -> Decision:
    limit = min(plan.max_file_bytes, hard_limit) if hard_limit else plan.max_file_bytes
    lim = Limit("max_file_bytes", size_bytes, limit)
    if size_bytes > limit:
        return refuse(f"the file is {size_bytes} bytes; the {plan.name} plan allows {limit} bytes "
                      "per file", lim)
    return allow(lim)


def decide_recording_seconds(plan: Plan, seconds: float, hard_limit: float | None = None, *,
                             at_least: bool = False) -> Decision:
    """The recording's length against the plan's per-recording limit (and the server's,
    `hard_limit`, when it is lower). `at_least`: `seconds` is a lower bound (the probe
    stopped decoding once the recording passed the limit)."""
    cap = plan.max_recording_seconds
    server_cap = hard_limit is not None and (cap is None or hard_limit < cap)
    limit = hard_limit if server_cap else cap
    lim = Limit("max_recording_seconds", round(seconds, 3), limit)
    if limit is not None and seconds > limit:
        length = (f"longer than {limit / 60:.0f} minutes" if at_least
                  else f"{_minutes(seconds)} minutes long")
        who = "this server accepts" if server_cap else f"the {plan.name} plan allows"
        return refuse(f"the recording is {length}; {who} {limit / 60:.0f} minutes per recording",
                      lim)
    return allow(lim)


def decide_monthly_seconds(plan: Plan, snap: UsageSnapshot, seconds: float) -> Decision:
    """Room for `seconds` more, counting what is charged and what is still being transcribed.
    With `seconds == 0` it asks whether any time is left at all."""
    total = snap.committed_seconds
    lim = Limit("monthly_audio_seconds", round(total, 3), plan.monthly_audio_seconds, snap.reset_at)
    cap = plan.monthly_audio_seconds
    if cap is None:
        return allow(lim)
    over = total + seconds > cap if seconds > 0 else total >= cap
    if over:
        left = max(0.0, cap - total)
        what = f"this recording is {_minutes(seconds)} minutes but only" if seconds > 0 else "only"
        return refuse(f"{what} {_minutes(left)} minutes of your {cap / 60:.0f} monthly minutes "
                      f"are left (including recordings still being transcribed); the quota "
                      f"resets on {snap.reset_at:%Y-%m-%d}", lim)
    return allow(lim)


def decide_storage_bytes(plan: Plan, snap: UsageSnapshot, size_bytes: int) -> Decision:
    cap = plan.max_storage_bytes
    lim = Limit("max_storage_bytes", snap.storage_bytes, cap)
    if cap is not None and snap.storage_bytes + size_bytes > cap:
        return refuse(f"storing {size_bytes} more bytes would exceed the {plan.name} plan's "
                      f"{cap} bytes of recordings ({snap.storage_bytes} used); delete old "
                      "sessions to make room", lim)
    return allow(lim)


def decide_storage_room(plan: Plan, snap: UsageSnapshot) -> Decision:
    """Something new is about to be stored whose size is not known yet (an episode's
    render, a generated asset): refused only when the plan's storage is already used up."""
    cap = plan.max_storage_bytes
    lim = Limit("max_storage_bytes", snap.storage_bytes, cap)
    if cap is not None and snap.storage_bytes >= cap:
        return refuse(f"the {plan.name} plan's {cap} bytes of storage are used up "
                      f"({snap.storage_bytes} used by recordings, episodes and assets); "
                      "delete old sessions or episodes to make room", lim)
    return allow(lim)


def decide_export(plan: Plan, fmt: str) -> Decision:
    lim = Limit("export_formats", fmt, list(plan.export_formats))
    if fmt not in plan.export_formats:
        return refuse(f"the {plan.name} plan does not include {fmt} export; it allows "
                      f"{', '.join(plan.export_formats)}", lim)
    return allow(lim)


def decide_episode(plan: Plan) -> Decision:
    lim = Limit("episodes_enabled", None, plan.episodes_enabled)
    if not plan.episodes_enabled:
        return refuse(f"the {plan.name} plan does not include episode production", lim)
    return allow(lim)


def first_refusal(*decisions: Decision) -> Decision:
    """The first refusal, else the last decision (the most specific limit for the answer)."""
    for d in decisions:
        if not d.allowed:
            return d
    return decisions[-1]


def decide_upload(plan: Plan, snap: UsageSnapshot, *, size_bytes: int, seconds: float,
                  hard_limit: int | None = None) -> Decision:
    return first_refusal(
        decide_file_bytes(plan, size_bytes, hard_limit),
        decide_recording_seconds(plan, seconds),
        decide_storage_bytes(plan, snap, size_bytes),
        decide_monthly_seconds(plan, snap, seconds),
    )


ACTIONS = ("create_session", "upload_file", "transcribe", "export_transcript", "create_episode")


def decide_action(plan: Plan, snap: UsageSnapshot, action: str, params: dict[str, Any], *,
                  hard_limit: int | None = None) -> Decision:
    seconds = float(params.get("seconds") or 0.0)
    size = int(params.get("bytes") or 0)
    if action in ("create_session", "upload_file"):
        return decide_upload(plan, snap, size_bytes=size, seconds=seconds, hard_limit=hard_limit)
    if action == "transcribe":
        return first_refusal(decide_recording_seconds(plan, seconds),
                             decide_monthly_seconds(plan, snap, seconds))
    if action == "export_transcript":
        return decide_export(plan, str(params.get("format") or "json"))
    if action == "create_episode":
        return decide_episode(plan)
    raise ValueError(f"unknown action {action!r}")


# --- checks that raise (used by the services and endpoints) -------------------------------------
def upload_byte_limit(rt: Runtime, principal: Principal) -> int:
    with failing_closed("upload"):
        return min(rt.settings.max_upload_bytes, rt.plans.get_plan(principal.plan).max_file_bytes)


def recording_seconds_limit(rt: Runtime, principal: Principal) -> float:
    """The longest recording (or asset) this user may upload: the plan's per-recording
    limit, or the server's `max_recording_seconds` when lower (or the plan has none). The
    probe is given it, so a refusal costs decoding up to the limit, never the whole file."""
    with failing_closed("upload"):
        cap = rt.plans.get_plan(principal.plan).max_recording_seconds
        hard = rt.settings.max_recording_seconds
        return float(min(cap, hard) if cap is not None else hard)


def precheck_upload(rt: Runtime, principal: Principal, *, size_bytes: int, seconds: float,
                    at_least: bool = False) -> None:
    """Limits that need no database: file size and recording length (`at_least`: the
    probe stopped at the limit, `seconds` is a lower bound)."""
    with failing_closed("upload"):
        plan = rt.plans.get_plan(principal.plan)
        first_refusal(decide_file_bytes(plan, size_bytes, rt.settings.max_upload_bytes),
                      decide_recording_seconds(plan, seconds, rt.settings.max_recording_seconds,
                                               at_least=at_least)).enforce()


def check_asset(db: DbSession, rt: Runtime, principal: Principal, *, size_bytes: int,
                seconds: float) -> None:
    """An asset (intro, outro, music): the per-file and per-recording limits, and it
    counts towards storage (checked under the user's lock, like an upload)."""
    with failing_closed("upload"):
        plan = plan_for(db, rt, principal.user_id, lock=True)
        snap = snapshot(db, rt, principal.user_id)
        first_refusal(decide_file_bytes(plan, size_bytes, rt.settings.max_upload_bytes),
                      decide_recording_seconds(plan, seconds, rt.settings.max_recording_seconds),
                      decide_storage_bytes(plan, snap, size_bytes)).enforce()


def check_upload(db: DbSession, rt: Runtime, principal: Principal, *, size_bytes: int,
                 seconds: float) -> None:
    """Atomic check of every upload limit, inside the transaction that inserts the session
    (the user row is locked first, so concurrent uploads are checked one after another)."""
    with failing_closed("upload"):
        plan = plan_for(db, rt, principal.user_id, lock=True)
        snap = snapshot(db, rt, principal.user_id)
        decide_upload(plan, snap, size_bytes=size_bytes, seconds=seconds,
                      hard_limit=rt.settings.max_upload_bytes).enforce()


def check_more_audio(db: DbSession, rt: Runtime, principal: Principal, *, total_bytes: int,
                     added_bytes: int, total_seconds: float, added_seconds: float) -> None:
    """A recording growing (a track added to a multitrack session not yet transcribed):
    its bytes summed and its new length against the per-recording limits, what it adds
    against storage and the month (the recording so far already counts there)."""
    with failing_closed("upload"):
        plan = plan_for(db, rt, principal.user_id, lock=True)
        snap = snapshot(db, rt, principal.user_id)
        decisions = [decide_file_bytes(plan, total_bytes, rt.settings.max_upload_bytes),
                     decide_recording_seconds(plan, total_seconds),
                     decide_storage_bytes(plan, snap, added_bytes)]
        if added_seconds > 0:
            decisions.append(decide_monthly_seconds(plan, snap, added_seconds))
        first_refusal(*decisions).enforce()


def check_transcribe(db: DbSession, rt: Runtime, user_id: str, *, seconds: float) -> None:
    """Before transcribing again (retry): the session's seconds must fit the month."""
    with failing_closed("transcription"):
        plan = plan_for(db, rt, user_id, lock=True)
        snap = snapshot(db, rt, user_id)
        first_refusal(decide_recording_seconds(plan, seconds),
                      decide_monthly_seconds(plan, snap, seconds)).enforce()


def check_export(db: DbSession, rt: Runtime, principal: Principal, fmt: str) -> None:
    with failing_closed("export"):
        decide_export(plan_for(db, rt, principal.user_id), fmt).enforce()


def check_episode(db: DbSession, rt: Runtime, principal: Principal) -> None:
    """A plan with episodes, and room left in its storage for what the request makes."""
    with failing_closed("episode creation"):
        plan = plan_for(db, rt, principal.user_id, lock=True)
        decide_episode(plan).enforce()
        if plan.max_storage_bytes is not None:
            decide_storage_room(plan, snapshot(db, rt, principal.user_id)).enforce()


def check_storage_room(db: DbSession, rt: Runtime, user_id: str) -> None:
    """Room left in the plan's storage for a new render of an existing episode."""
    with failing_closed("a new version"):
        plan = plan_for(db, rt, user_id)
        if plan.max_storage_bytes is not None:
            decide_storage_room(plan, snapshot(db, rt, user_id)).enforce()


def may_start_job(db: DbSession, rt: Runtime, job: Job) -> bool:
    """The admission check (the plan's concurrency limit on transcriptions and renders), run
    when a worker claims a queued job: extra jobs wait in the queue. Short jobs (deliveries,
    mail) and jobs without a user are always admitted."""
    if job.user_id is None or job.pool != "long":
        return True
    plan = plan_for(db, rt, job.user_id)
    return running_jobs(db, job.user_id) < plan.max_concurrent_jobs


def queue_priorities(db: DbSession, rt: Runtime, user_ids: list[str]) -> dict[str, int]:
    """Each user's plan `queue_priority` (the queue's tie-breaker; unknown plans count 0)."""
    out: dict[str, int] = {}
    for user_id, name in db.execute(select(User.id, User.plan).where(User.id.in_(user_ids))):
        plan = rt.plans.get(name)
        out[user_id] = plan.queue_priority if plan is not None else 0
    return out


__all__ = [
    "ACTIONS", "Decision", "Limit", "UsageMeters", "UsageSnapshot", "check_asset", "check_episode",
    "check_export", "check_more_audio", "check_storage_room", "check_transcribe", "check_upload",
    "decide_action",
    "may_start_job",
    "precheck_upload", "recording_seconds_limit", "snapshot", "upload_byte_limit",
]
