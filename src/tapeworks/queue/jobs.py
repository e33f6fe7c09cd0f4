"""Running jobs so that none is lost or stuck (rules 5, 6, 7).

A job runs in three phases:
1. **claim**: one short transaction flips the row from `queued` to `running` with a lease,
   increments `attempt`, and lets the handler copy what it needs into a plain dataclass;
2. **work**: no database session is open (decode, transcribe, render, upload); a heartbeat
   thread renews the lease in its own short transactions, progress writes are their own
   short transactions too;
3. **save**: one short transaction, guarded by the lease (owner and attempt), writes the
   results and completes the job.

A worker that dies leaves a lease that expires; `reconcile_once` re-queues the job until
`max_attempts`, then fails it with the reason. Every failure records a stage and a message.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session as DbSession

from tapeworks.db.base import utcnow
from tapeworks.db.uow import after_commit
from tapeworks.errors import TapeworksError
from tapeworks.logging import get_logger
from tapeworks.queue.models import Job
from tapeworks.queue.periodic import PeriodicThread

if TYPE_CHECKING:
    from tapeworks.runtime import Runtime

log = get_logger("tapeworks.jobs")


class JobAbandoned(Exception):
    """The job was cancelled or its lease was taken over: stop and write nothing."""


@dataclass(frozen=True)
class JobRef:
    """What the work phase knows about its job (never an ORM object)."""

    id: str
    kind: str
    attempt: int
    max_attempts: int
    owner: str
    user_id: str
    session_id: str | None
    episode_id: str | None


class JobHandler(Protocol):
    kind: str

    def prepare(self, db: DbSession, job: Job) -> Any:
        """Claim phase: mark the owner processing, return a plain payload for the work phase."""

    def work(self, ctx: JobContext, payload: Any) -> Any:
        """Work phase: no database session. Return a plain result."""

    def save(self, db: DbSession, job: Job, payload: Any, result: Any) -> None:
        """Save phase: write results idempotently (a retried job may save twice)."""

    def mirror(self, db: DbSession, job: Job) -> None:
        """Copy the job's status/progress/stage/error onto its session or episode."""


_handlers: dict[str, JobHandler] = {}


def register_handler(handler: JobHandler) -> None:
    _handlers[handler.kind] = handler


def get_handler(kind: str) -> JobHandler:
    if kind not in _handlers:
        # handlers register themselves on import
        if kind == "transcribe":
            import tapeworks.sessions.tasks
        elif kind == "render_episode":
            import tapeworks.episodes.tasks  # noqa: F401
    return _handlers[kind]


def make_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident() % 100000}:{uuid.uuid4().hex[:6]}"


def ref_of(job: Job, owner: str) -> JobRef:
    return JobRef(job.id, job.kind, job.attempt, job.max_attempts, owner, job.user_id,
                  job.session_id, job.episode_id)


# --- creating and controlling jobs -------------------------------------------------------
def create_job(
    db: DbSession,
    rt: Runtime,
    *,
    kind: str,
    user_id: str,
    session_id: str | None = None,
    episode_id: str | None = None,
) -> Job:
    """Insert a queued job; the message goes to the queue only after the commit."""
    job = Job(kind=kind, user_id=user_id, session_id=session_id, episode_id=episode_id,
              status="queued", stage="queued", message="waiting for a worker",
              max_attempts=rt.settings.job_max_attempts, enqueued_at=utcnow())
    db.add(job)
    db.flush()
    enqueue_after_commit(db, rt, job.id)
    return job


def enqueue_after_commit(db: DbSession, rt: Runtime, job_id: str, delay: float = 0.0) -> None:
    after_commit(db, lambda: rt.queue.enqueue(job_id, delay=delay))


def cancel_job(db: DbSession, job: Job) -> bool:
    if job.status not in ("queued", "running"):
        return False
    job.status = "cancelled"
    job.stage = "cancelled"
    job.message = "cancelled by the user"
    job.lease_owner = None
    job.lease_expires_at = None
    job.finished_at = utcnow()
    return True


# --- the three phases ------------------------------------------------------------------------
DEFERRED = "deferred"


def claim(db: DbSession, rt: Runtime, job_id: str, owner: str) -> tuple[JobRef, Any] | str | None:
    from tapeworks.plans.enforcement import may_start_job

    now = utcnow()
    pending = db.get(Job, job_id)
    if pending is None or pending.status not in ("queued", "running"):
        return None
    if pending.status == "queued" and not may_start_job(db, pending.user_id, rt=rt):
        return DEFERRED  # the plan's concurrent-job limit: wait in the queue
    lease = timedelta(seconds=rt.settings.job_lease_seconds)
    result = db.execute(
        update(Job)
        .where(
            Job.id == job_id,
            Job.attempt < Job.max_attempts,
            or_(Job.status == "queued",
                and_(Job.status == "running", Job.lease_expires_at < now)),
        )
        .values(status="running", attempt=Job.attempt + 1, lease_owner=owner,
                lease_expires_at=now + lease, heartbeat_at=now, started_at=now,
                progress=0.0, stage="starting", message="", eta_seconds=None,
                error_stage=None, error_message=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    job = db.get(Job, job_id, populate_existing=True)
    assert job is not None
    handler = get_handler(job.kind)
    payload = handler.prepare(db, job)
    handler.mirror(db, job)
    return ref_of(job, owner), payload


def _owned(db: DbSession, ref: JobRef) -> Job:
    """The job row, locked, if this attempt still owns it; otherwise JobAbandoned."""
    stmt = select(Job).where(Job.id == ref.id).execution_options(populate_existing=True)
    if db.bind is not None and db.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    job = db.scalar(stmt)
    if job is None or job.status != "running" or job.lease_owner != ref.owner \
            or job.attempt != ref.attempt:
        raise JobAbandoned(f"job {ref.id} is no longer owned by this attempt")
    return job


def save(db: DbSession, ref: JobRef, payload: Any, result: Any) -> None:
    job = _owned(db, ref)
    handler = get_handler(job.kind)
    handler.save(db, job, payload, result)
    now = utcnow()
    job.status = "completed"
    job.progress = 100.0
    job.stage = "completed"
    job.message = "done"
    job.eta_seconds = 0.0
    job.lease_owner = None
    job.lease_expires_at = None
    job.finished_at = now
    handler.mirror(db, job)


def fail(db: DbSession, job_id: str, *, stage: str, message: str, owner: str | None = None) -> bool:
    job = db.get(Job, job_id, populate_existing=True)
    if job is None or job.status not in ("queued", "running"):
        return False
    if owner is not None and job.lease_owner != owner:
        return False
    job.status = "failed"
    job.error_stage = stage
    job.error_message = message
    job.stage = "failed"
    job.message = message[:500]
    job.lease_owner = None
    job.lease_expires_at = None
    job.eta_seconds = None
    job.finished_at = utcnow()
    get_handler(job.kind).mirror(db, job)
    return True


def requeue(db: DbSession, rt: Runtime, job: Job, *, reason: str, delay: float = 0.0) -> None:
    job.status = "queued"
    job.stage = "queued"
    job.message = reason[:500]
    job.lease_owner = None
    job.lease_expires_at = None
    job.eta_seconds = None
    job.enqueued_at = utcnow()
    get_handler(job.kind).mirror(db, job)
    enqueue_after_commit(db, rt, job.id, delay=delay)


# --- work-phase context ------------------------------------------------------------------
@dataclass
class JobContext:
    rt: Runtime
    ref: JobRef
    stage: str = "starting"
    _progress: float = 0.0
    _last_write: float = 0.0
    _started: float = field(default_factory=time.monotonic)
    _abandoned: threading.Event = field(default_factory=threading.Event)
    min_interval: float = 0.5

    def check(self) -> None:
        if self._abandoned.is_set():
            raise JobAbandoned(f"job {self.ref.id} was cancelled or taken over")

    def progress(self, percentage: float, stage: str | None = None, message: str = "") -> None:
        """Report progress (0-99.9; 100 is only set on completion). Monotonic, throttled."""
        self.check()
        pct = max(self._progress, min(99.9, float(percentage)))
        stage_changed = stage is not None and stage != self.stage
        now = time.monotonic()
        if not stage_changed and now - self._last_write < self.min_interval:
            self._progress = pct
            return
        self._progress = pct
        if stage is not None:
            self.stage = stage
        elapsed = now - self._started
        eta = elapsed / pct * (100.0 - pct) if pct >= 1.0 else None
        self._last_write = now
        ok = self.rt.database.run(lambda db: _write_progress(db, self.ref, pct, self.stage, message, eta))
        if not ok:
            self._abandoned.set()
            self.check()
        log.info("job.progress", job_id=self.ref.id, kind=self.ref.kind, progress=round(pct, 1),
                 stage=self.stage)


def _write_progress(db: DbSession, ref: JobRef, pct: float, stage: str, message: str,
                    eta: float | None) -> bool:
    now = utcnow()
    res = db.execute(
        update(Job)
        .where(Job.id == ref.id, Job.lease_owner == ref.owner, Job.attempt == ref.attempt,
               Job.status == "running", Job.progress <= pct)
        .values(progress=pct, stage=stage, message=message[:500], eta_seconds=eta,
                heartbeat_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if res.rowcount != 1:  # type: ignore[attr-defined]
        # lost the lease, cancelled, or (never) a smaller value: check which
        job = db.get(Job, ref.id, populate_existing=True)
        return bool(job and job.status == "running" and job.lease_owner == ref.owner)
    job = db.get(Job, ref.id, populate_existing=True)
    assert job is not None
    get_handler(job.kind).mirror(db, job)
    return True


class Heartbeat:
    """Renews the lease every `interval` seconds in its own short transactions."""

    def __init__(self, ctx: JobContext) -> None:
        self.ctx = ctx
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{ctx.ref.id[:8]}",
                                        daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        s = self.ctx.rt.settings
        while not self._stop.wait(s.job_heartbeat_seconds):
            try:
                alive = self.ctx.rt.database.run(
                    lambda db: _renew(db, self.ctx.ref, s.job_lease_seconds), max_seconds=s.job_lease_seconds
                )
            except Exception as exc:  # keep beating; the lease covers short outages
                log.warning("job.heartbeat_failed", job_id=self.ctx.ref.id, error=str(exc)[:200])
                continue
            if not alive:
                log.warning("job.lease_lost", job_id=self.ctx.ref.id, owner=self.ctx.ref.owner)
                self.ctx._abandoned.set()
                return


def _renew(db: DbSession, ref: JobRef, lease_seconds: float) -> bool:
    now = utcnow()
    res = db.execute(
        update(Job)
        .where(Job.id == ref.id, Job.lease_owner == ref.owner, Job.attempt == ref.attempt,
               Job.status == "running")
        .values(lease_expires_at=now + timedelta(seconds=lease_seconds), heartbeat_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(res.rowcount == 1)  # type: ignore[attr-defined]


# --- the executor (what a queue message runs) ------------------------------------------------
def execute(rt: Runtime, job_id: str) -> str:
    """Run one job through claim, work and save. Returns what happened (for logs and tests)."""
    owner = make_owner()
    try:
        claimed = rt.database.run(lambda db: claim(db, rt, job_id, owner))
    except TapeworksError as exc:  # the handler refused to start (e.g. source audio gone)
        reason = exc.message
        rt.database.run(lambda db: fail(db, job_id, stage="starting", message=reason))
        log.error("job.failed", job_id=job_id, stage="starting", error=reason)
        return "failed"
    if claimed is None:
        log.info("job.skipped", job_id=job_id, reason="not claimable (done, running elsewhere, or cancelled)")
        return "skipped"
    if claimed == DEFERRED:
        log.info("job.deferred", job_id=job_id, reason="concurrent job limit of the plan")
        rt.queue.enqueue(job_id, delay=2.0)
        return "deferred"
    assert not isinstance(claimed, str)
    ref, payload = claimed
    log.info("job.claimed", job_id=ref.id, kind=ref.kind, attempt=ref.attempt, owner=owner,
             session_id=ref.session_id, episode_id=ref.episode_id)
    handler = get_handler(ref.kind)
    ctx = JobContext(rt, ref)
    try:
        with Heartbeat(ctx):
            result = handler.work(ctx, payload)
            ctx.check()
            ctx.progress(99.5, "saving")
            rt.database.run(lambda db: save(db, ref, payload, result))
    except JobAbandoned as exc:
        log.info("job.abandoned", job_id=ref.id, reason=str(exc))
        return "abandoned"
    except TapeworksError as exc:
        # An expected, permanent failure (bad audio, broken model): record it for the user.
        _record_failure(rt, ref, ctx.stage, exc.message)
        return "failed"
    except Exception as exc:
        message = f"{type(exc).__name__}: {exc}"[:1000]
        if ref.attempt < ref.max_attempts:
            def _retry(db: DbSession) -> None:
                job = _owned(db, ref)
                requeue(db, rt, job, reason=f"attempt {ref.attempt} failed at {ctx.stage}: {message}",
                        delay=min(30.0, 2.0 ** ref.attempt))
            try:
                rt.database.run(_retry)
                log.warning("job.requeued", job_id=ref.id, attempt=ref.attempt, stage=ctx.stage,
                            error=message)
            except JobAbandoned:
                pass
            except Exception as exc2:  # the lease will expire; the reconciler takes over
                log.error("job.requeue_failed", job_id=ref.id, error=str(exc2)[:300])
            return "requeued"
        _record_failure(rt, ref, ctx.stage, message)
        return "failed"
    log.info("job.completed", job_id=ref.id, kind=ref.kind, attempt=ref.attempt,
             seconds=round(time.monotonic() - ctx._started, 2))
    return "completed"


def _record_failure(rt: Runtime, ref: JobRef, stage: str, message: str) -> None:
    try:
        rt.database.run(lambda db: fail(db, ref.id, stage=stage, message=message, owner=ref.owner))
        log.error("job.failed", job_id=ref.id, kind=ref.kind, attempt=ref.attempt, stage=stage,
                  error=message)
    except Exception as exc:  # the lease expires and the reconciler records the failure
        log.error("job.fail_record_failed", job_id=ref.id, error=str(exc)[:300])


# --- the reconciler ---------------------------------------------------------------------------
def reconcile_once(rt: Runtime) -> dict[str, int]:
    """Re-queue jobs whose lease expired (until max_attempts, then fail them) and re-send
    queued jobs whose message was lost. Safe to run from any number of processes."""
    counts = {"requeued": 0, "failed": 0, "resent": 0}

    def _run(db: DbSession) -> None:
        now = utcnow()
        stmt = select(Job).where(Job.status == "running", Job.lease_expires_at < now)
        if db.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        for job in db.scalars(stmt.execution_options(populate_existing=True)):
            if job.attempt >= job.max_attempts:
                reason = (f"the worker running it stopped responding (lease expired) on "
                          f"attempt {job.attempt} of {job.max_attempts}; giving up")
                fail(db, job.id, stage=job.stage or "running", message=reason)
                counts["failed"] += 1
                log.error("job.failed", job_id=job.id, kind=job.kind, attempt=job.attempt,
                          reason=reason)
            else:
                requeue(db, rt, job, reason=f"worker lost on attempt {job.attempt} "
                        f"(lease held by {job.lease_owner} expired); retrying")
                counts["requeued"] += 1
                log.warning("job.requeued", job_id=job.id, kind=job.kind, attempt=job.attempt,
                            reason="lease expired")
        stale = now - timedelta(seconds=rt.settings.job_requeue_after_seconds)
        lost = select(Job).where(Job.status == "queued", Job.enqueued_at < stale)
        if db.get_bind().dialect.name == "postgresql":
            lost = lost.with_for_update(skip_locked=True)
        for job in db.scalars(lost):
            job.enqueued_at = now
            enqueue_after_commit(db, rt, job.id)
            counts["resent"] += 1
            log.info("job.resent", job_id=job.id, kind=job.kind)

    rt.database.run(_run)
    return counts


def Reconciler(rt: Runtime, interval: float | None = None) -> PeriodicThread:
    """The reconciler: `reconcile_once` every `reconcile_interval_seconds`."""

    def run() -> None:
        counts = reconcile_once(rt)
        if any(counts.values()):
            log.info("job.reconciled", **counts)

    return PeriodicThread("reconciler", interval or rt.settings.reconcile_interval_seconds, run,
                          event="job.reconcile")
