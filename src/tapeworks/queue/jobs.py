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

Every function takes `rt`, the process's runtime (settings, database, store, the registry
and the queue); this module imports no domain: the registry says which handler runs a
kind and which model shows an owner's status.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.orm import Session as DbSession

from tapeworks.db.base import utcnow
from tapeworks.db.uow import after_commit
from tapeworks.errors import TapeworksError
from tapeworks.logging import get_logger
from tapeworks.queue.eta import EtaEstimator
from tapeworks.queue.mirror import mirror_job
from tapeworks.queue.models import ACTIVE_JOB_STATUSES, FINISHED_JOB_STATUSES, Job
from tapeworks.queue.registry import Registry

log = get_logger("tapeworks.jobs")


class JobAbandoned(Exception):
    """The job was cancelled or its lease was taken over: stop and write nothing."""


class JobUnstartable(Exception):
    """The handler refused to start a claimed job (its owner is gone, its audio purged):
    the claim is rolled back and the job is failed with the handler's message."""

    def __init__(self, job_id: str, message: str) -> None:
        super().__init__(message)
        self.job_id = job_id
        self.message = message


@dataclass(frozen=True)
class JobRef:
    """What the work phase knows about its job (never an ORM object)."""

    id: str
    kind: str
    attempt: int
    max_attempts: int
    lease_owner: str
    user_id: str | None
    owner_kind: str | None
    owner_id: str | None


def make_lease_owner() -> str:
    return (f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident() % 100000}:"
            f"{uuid.uuid4().hex[:6]}")


def ref_of(job: Job, lease_owner: str) -> JobRef:
    return JobRef(job.id, job.kind, job.attempt, job.max_attempts, lease_owner, job.user_id,
                  job.owner_kind, job.owner_id)


def _release(job: Job, status: str, *, stage: str, message: str) -> None:
    """Set a job's status and drop its lease (every transition out of `running`)."""
    job.status = status
    job.stage = stage
    job.message = message[:500]
    job.lease_owner = None
    job.lease_expires_at = None
    if status != "completed":
        job.eta_seconds = None
    if status in FINISHED_JOB_STATUSES:
        job.finished_at = utcnow()


def mirror(db: DbSession, registry: Registry, job: Job) -> None:
    """Copy the job's state onto its owner (if the owner kind shows status)."""
    model = registry.owner_model(job.owner_kind)
    if model is None or job.owner_id is None:
        return
    owner = db.get(model, job.owner_id)
    if owner is not None:
        mirror_job(owner, job)


def _finished(db: DbSession, rt: Any, job: Job) -> None:
    """Tell the owner kind that its current job completed or failed (same transaction)."""
    spec = rt.registry.owners.get(job.owner_kind) if job.owner_kind else None
    if spec is None or spec.on_finished is None or job.owner_id is None:
        return
    owner = db.get(spec.model, job.owner_id)
    if owner is not None and owner.current_job_id == job.id:
        spec.on_finished(db, rt, owner, job)


# --- creating and controlling jobs -------------------------------------------------------
def create_job(
    db: DbSession,
    rt: Any,
    *,
    kind: str,
    user_id: str | None,
    owner_kind: str | None = None,
    owner_id: str | None = None,
    delay: float = 0.0,
) -> Job:
    """Insert a queued job; its message goes to the queue only after the commit."""
    handler = rt.registry.handler(kind)
    now = utcnow()
    job = Job(kind=kind, pool=handler.pool, user_id=user_id, owner_kind=owner_kind,
              owner_id=owner_id, status="queued", stage="queued", message="waiting for a worker",
              max_attempts=handler.max_attempts or rt.settings.job_max_attempts,
              enqueued_at=now, run_after=now + timedelta(seconds=delay))
    db.add(job)
    db.flush()
    enqueue_after_commit(db, rt, job, delay=delay)
    return job


def enqueue_after_commit(db: DbSession, rt: Any, job: Job, delay: float = 0.0) -> None:
    """After the commit, wake a consumer of the job's pool (at `delay` for a job that is not
    due yet). The message carries no job: the woken consumer claims the fairest due job."""
    pool = job.pool
    after_commit(db, lambda: rt.queue.wake(pool, delay=delay))


def cancel_job(db: DbSession, job: Job) -> bool:
    if job.status not in ACTIVE_JOB_STATUSES:
        return False
    _release(job, "cancelled", stage="cancelled", message="cancelled by the user")
    return True


def owners_of(db: DbSession, registry: Registry, owner_kind: str, owner_id: str
              ) -> list[tuple[str, str]]:
    """The owner and everything deleted with it (a session and its episodes)."""
    found = [(owner_kind, owner_id)]
    spec = registry.owners.get(owner_kind)
    if spec is not None and spec.children is not None:
        for kind, child in spec.children(db, owner_id):
            found.extend(owners_of(db, registry, kind, child))
    return found


def delete_jobs_of(db: DbSession, registry: Registry, owner_kind: str, owner_id: str) -> int:
    """Delete every job of an owner being deleted, and of its children. A worker running
    one loses its lease at its next heartbeat and writes nothing."""
    n = 0
    for kind, oid in owners_of(db, registry, owner_kind, owner_id):
        res = db.execute(delete(Job).where(Job.owner_kind == kind, Job.owner_id == oid)
                         .execution_options(synchronize_session=False))
        n += int(res.rowcount or 0)  # type: ignore[attr-defined]
    return n


def active_job_exists(db: DbSession, owner_kind: str, owner_id: str) -> bool:
    return db.scalar(select(Job.id).where(
        Job.owner_kind == owner_kind, Job.owner_id == owner_id,
        Job.status.in_(ACTIVE_JOB_STATUSES)).limit(1)) is not None


# --- the three phases ------------------------------------------------------------------------
CANDIDATES_PER_USER = 2
CANDIDATE_USERS = 200


def due_candidates(db: DbSession, rt: Any, pool: str, now: datetime) -> list[str]:
    """Queued, due job ids of a pool in the order they should be taken (rule: round-robin
    across users, the user served least recently first, plan priority breaking ties, and
    within a user oldest first)."""
    rank = func.row_number().over(partition_by=Job.user_id,
                                  order_by=(Job.enqueued_at, Job.id)).label("rank")
    due = (select(Job.id, Job.user_id, Job.enqueued_at, rank)
           .where(Job.status == "queued", Job.pool == pool,
                  or_(Job.run_after.is_(None), Job.run_after <= now))
           .subquery())
    rows = db.execute(select(due.c.id, due.c.user_id, due.c.enqueued_at)
                      .where(due.c.rank <= CANDIDATES_PER_USER)
                      .order_by(due.c.enqueued_at, due.c.id)
                      .limit(CANDIDATE_USERS * CANDIDATES_PER_USER)).all()
    if not rows:
        return []
    users = sorted({r.user_id for r in rows if r.user_id is not None})
    served: dict[str | None, datetime | None] = {}
    if users:
        served = {u: t for u, t in db.execute(
            select(Job.user_id, func.max(Job.started_at))
            .where(Job.pool == pool, Job.user_id.in_(users), Job.started_at.is_not(None))
            .group_by(Job.user_id)).all()}
    priority: dict[str, int] = {}
    registry: Registry = rt.registry
    if registry.priority is not None and users:
        priority = registry.priority(db, rt, users)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)

    def key(r: Any) -> tuple[datetime, int, datetime, str]:
        last = served.get(r.user_id)
        return (_aware(last) if last else epoch, -priority.get(r.user_id, 0),
                _aware(r.enqueued_at) if r.enqueued_at else epoch, r.id)

    return [r.id for r in sorted(rows, key=key)]


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def claim_next(db: DbSession, rt: Any, pool: str, lease_owner: str) -> tuple[JobRef, Any] | None:
    """Claim the fairest due job of `pool` that its admission check lets start now (None
    when there is none). On PostgreSQL, rows other workers are claiming are skipped."""
    now = utcnow()
    pg = db.get_bind().dialect.name == "postgresql"
    for job_id in due_candidates(db, rt, pool, now):
        if pg:
            locked = db.scalar(select(Job.id).where(Job.id == job_id, Job.status == "queued")
                               .with_for_update(skip_locked=True))
            if locked is None:
                continue
        claimed = claim_job(db, rt, job_id, lease_owner, now=now)
        if isinstance(claimed, tuple):
            return claimed
    return None


def claim_job(db: DbSession, rt: Any, job_id: str, lease_owner: str, *,
              now: datetime | None = None) -> tuple[JobRef, Any] | str | None:
    """Claim one given job: a compare-and-set to `running` with a lease. Returns the ref and
    the handler's payload, DEFERRED when the admission check says not yet, or None."""
    now = now or utcnow()
    registry: Registry = rt.registry
    pending = db.get(Job, job_id)
    if pending is None or pending.status not in ACTIVE_JOB_STATUSES:
        return None
    if pending.status == "queued" and pending.run_after is not None \
            and _aware(pending.run_after) > now:
        return None  # not due yet: its delayed wake-up (or the reconciler) comes back
    if pending.status == "queued" and registry.admission is not None \
            and not registry.admission(db, rt, pending):
        return DEFERRED  # e.g. the plan's concurrent-job limit: wait in the queue
    lease = timedelta(seconds=rt.settings.job_lease_seconds)
    result = db.execute(
        update(Job)
        .where(
            Job.id == job_id,
            Job.attempt < Job.max_attempts,
            or_(Job.status == "queued",
                and_(Job.status == "running", Job.lease_expires_at < now)),
        )
        .values(status="running", attempt=Job.attempt + 1, lease_owner=lease_owner,
                lease_expires_at=now + lease, heartbeat_at=now, started_at=now,
                progress=0.0, stage="starting", message="", eta_seconds=None,
                error_stage=None, error_message=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    job = db.get(Job, job_id, populate_existing=True)
    assert job is not None
    try:
        payload = registry.handler(job.kind).prepare(db, job)
    except TapeworksError as exc:
        raise JobUnstartable(job_id, exc.message) from exc
    mirror(db, registry, job)
    return ref_of(job, lease_owner), payload


DEFERRED = "deferred"


def _owned(db: DbSession, ref: JobRef) -> Job:
    """The job row, locked, if this attempt still owns it; otherwise JobAbandoned."""
    stmt = select(Job).where(Job.id == ref.id).execution_options(populate_existing=True)
    if db.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    job = db.scalar(stmt)
    if job is None or job.status != "running" or job.lease_owner != ref.lease_owner \
            or job.attempt != ref.attempt:
        raise JobAbandoned(f"job {ref.id} is no longer owned by this attempt")
    return job


def save(db: DbSession, rt: Any, ref: JobRef, payload: Any, result: Any) -> None:
    job = _owned(db, ref)
    rt.registry.handler(job.kind).save(db, job, payload, result)
    _release(job, "completed", stage="completed", message="done")
    job.progress = 100.0
    job.eta_seconds = 0.0
    mirror(db, rt.registry, job)
    _finished(db, rt, job)


def fail(db: DbSession, rt: Any, job_id: str, *, stage: str, message: str,
         lease_owner: str | None = None) -> bool:
    job = db.get(Job, job_id, populate_existing=True)
    if job is None or job.status not in ACTIVE_JOB_STATUSES:
        return False
    if lease_owner is not None and job.lease_owner != lease_owner:
        return False
    _release(job, "failed", stage="failed", message=message)
    job.error_stage = stage
    job.error_message = message
    mirror(db, rt.registry, job)
    _finished(db, rt, job)
    return True


def requeue(db: DbSession, rt: Any, job: Job, *, reason: str, delay: float = 0.0) -> None:
    now = utcnow()
    _release(job, "queued", stage="queued", message=reason)
    job.enqueued_at = now
    job.run_after = now + timedelta(seconds=delay)
    mirror(db, rt.registry, job)
    enqueue_after_commit(db, rt, job, delay=delay)


def release(db: DbSession, rt: Any, ref: JobRef, *, reason: str) -> bool:
    """Give a running job back to the queue at once (graceful shutdown): queued, due now,
    and without using up an attempt. Only the attempt holding the lease can release it."""
    job = db.scalar(select(Job).where(Job.id == ref.id)
                    .execution_options(populate_existing=True))
    if job is None or job.status != "running" or job.lease_owner != ref.lease_owner \
            or job.attempt != ref.attempt:
        return False
    requeue(db, rt, job, reason=reason)
    job.attempt = max(0, job.attempt - 1)
    mirror(db, rt.registry, job)
    return True


def due_pools(db: DbSession, now: datetime | None = None) -> list[str]:
    """Pools with queued jobs that are due."""
    at = now or utcnow()
    return list(db.scalars(select(Job.pool).where(
        Job.status == "queued", or_(Job.run_after.is_(None), Job.run_after <= at)).distinct()))


# --- work-phase context ------------------------------------------------------------------
@dataclass(eq=False)  # identity: a set of running contexts
class JobContext:
    rt: Any
    ref: JobRef
    stage: str = "starting"
    _progress: float = 0.0
    _last_write: float = 0.0
    _started: float = field(default_factory=time.monotonic)
    _abandoned: threading.Event = field(default_factory=threading.Event)
    _eta: EtaEstimator = field(default_factory=EtaEstimator)
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
        eta = self._eta.update(now - self._started, pct)  # shown only once stable (queue/eta.py)
        if not stage_changed and now - self._last_write < self.min_interval:
            self._progress = pct
            return
        self._progress = pct
        if stage is not None:
            self.stage = stage
        self._last_write = now
        ok = self.rt.database.run(
            lambda db: _write_progress(db, self.rt.registry, self.ref, pct, self.stage, message, eta))
        if not ok:
            self._abandoned.set()
            self.check()
        log.info("job.progress", job_id=self.ref.id, kind=self.ref.kind, progress=round(pct, 1),
                 stage=self.stage)


def _write_progress(db: DbSession, registry: Registry, ref: JobRef, pct: float, stage: str,
                    message: str, eta: float | None) -> bool:
    now = utcnow()
    res = db.execute(
        update(Job)
        .where(Job.id == ref.id, Job.lease_owner == ref.lease_owner, Job.attempt == ref.attempt,
               Job.status == "running", Job.progress <= pct)
        .values(progress=pct, stage=stage, message=message[:500], eta_seconds=eta,
                heartbeat_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if res.rowcount != 1:  # type: ignore[attr-defined]
        # lost the lease, cancelled, or (never) a smaller value: check which
        job = db.get(Job, ref.id, populate_existing=True)
        return bool(job and job.status == "running" and job.lease_owner == ref.lease_owner)
    job = db.get(Job, ref.id, populate_existing=True)
    assert job is not None
    mirror(db, registry, job)
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
                    lambda db: _renew(db, self.ctx.ref, s.job_lease_seconds),
                    max_seconds=s.job_lease_seconds)
            except Exception as exc:  # keep beating; the lease covers short outages
                log.warning("job.heartbeat_failed", job_id=self.ctx.ref.id, error=str(exc)[:200])
                continue
            if not alive:
                log.warning("job.lease_lost", job_id=self.ctx.ref.id,
                            lease_owner=self.ctx.ref.lease_owner)
                self.ctx._abandoned.set()
                return


def _renew(db: DbSession, ref: JobRef, lease_seconds: float) -> bool:
    now = utcnow()
    res = db.execute(
        update(Job)
        .where(Job.id == ref.id, Job.lease_owner == ref.lease_owner, Job.attempt == ref.attempt,
               Job.status == "running")
        .values(lease_expires_at=now + timedelta(seconds=lease_seconds), heartbeat_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(res.rowcount == 1)  # type: ignore[attr-defined]


# --- the executor (what a wake-up runs) -------------------------------------------------------
def execute_next(rt: Any, pool: str) -> str:
    """Claim the fairest due job of `pool` and run it through work and save. Returns what
    happened (for logs and tests); "idle" when nothing could be claimed."""
    if rt.queue.draining:  # taken just before this process stopped taking messages
        rt.queue.wake(pool, delay=1.0)  # hand it on to another consumer
        return "draining"
    lease_owner = make_lease_owner()
    try:
        claimed = rt.database.run(lambda db: claim_next(db, rt, pool, lease_owner))
    except JobUnstartable as exc:
        job_id, reason = exc.job_id, exc.message
        rt.database.run(lambda db: fail(db, rt, job_id, stage="starting", message=reason))
        log.error("job.failed", job_id=job_id, stage="starting", error=reason)
        _wake_due(rt)
        return "failed"
    if claimed is None:
        return "idle"
    outcome = run_claimed(rt, claimed)
    _wake_due(rt)
    return outcome


def _wake_due(rt: Any) -> None:
    """A job finished (a slot freed): wake each pool that still has due jobs."""
    try:
        for pool in rt.database.run(lambda db: due_pools(db), write=False):
            rt.queue.wake(pool)
    except Exception as exc:  # the reconciler re-sends wake-ups for waiting jobs
        log.warning("job.wake_failed", error=str(exc)[:200])


def run_claimed(rt: Any, claimed: tuple[JobRef, Any]) -> str:
    ref, payload = claimed
    log.info("job.claimed", job_id=ref.id, kind=ref.kind, attempt=ref.attempt,
             lease_owner=ref.lease_owner, owner_kind=ref.owner_kind, owner_id=ref.owner_id)
    handler = rt.registry.handler(ref.kind)
    ctx = JobContext(rt, ref)
    rt.queue.running_started(ctx)
    try:
        with Heartbeat(ctx):
            result = handler.work(ctx, payload)
            ctx.check()
            ctx.progress(99.5, "saving")
            rt.database.run(lambda db: save(db, rt, ref, payload, result))
    except JobAbandoned as exc:
        log.info("job.abandoned", job_id=ref.id, reason=str(exc))
        return "abandoned"
    except TapeworksError as exc:
        # An expected, permanent failure (bad audio, broken model): record it for the user.
        if exc.status_code >= 500:
            log.error("job.server_error", job_id=ref.id, kind=ref.kind, stage=ctx.stage,
                      code=exc.code, error=exc.message, details=exc.details)
        _record_failure(rt, ref, ctx.stage, user_message(exc, ref, ctx.stage))
        return "failed"
    except Exception as exc:
        # The user never sees a Python exception: the log has it, the job a plain sentence.
        log.exception("job.unexpected_error", job_id=ref.id, kind=ref.kind, stage=ctx.stage,
                      attempt=ref.attempt, error=f"{type(exc).__name__}: {exc}"[:1000])
        message = user_message(exc, ref, ctx.stage)
        if ref.attempt < ref.max_attempts:
            def _retry(db: DbSession) -> None:
                job = _owned(db, ref)
                requeue(db, rt, job, reason=f"attempt {ref.attempt} of {ref.max_attempts} "
                        f"failed while {ctx.stage}; trying again",
                        delay=min(30.0, 2.0 ** ref.attempt))
            try:
                rt.database.run(_retry)
                log.warning("job.requeued", job_id=ref.id, attempt=ref.attempt, stage=ctx.stage)
            except JobAbandoned:
                pass
            except Exception as exc2:  # the lease will expire; the reconciler takes over
                log.error("job.requeue_failed", job_id=ref.id, error=str(exc2)[:300])
            return "requeued"
        _record_failure(rt, ref, ctx.stage, message)
        return "failed"
    finally:
        rt.queue.running_finished(ctx)
    log.info("job.completed", job_id=ref.id, kind=ref.kind, attempt=ref.attempt,
             seconds=round(time.monotonic() - ctx._started, 2))
    return "completed"


def user_message(exc: BaseException, ref: JobRef, stage: str) -> str:
    """What the user reads when a job fails: an expected refusal in its own words; a
    problem on the server's side (an unexpected exception, or an error with status >= 500
    whose message names paths and hosts) as a plain sentence pointing at the log; an error
    that carries a `public_message` (written for the user) says that."""
    if isinstance(exc, TapeworksError) and exc.public_message:
        return exc.public_message
    if isinstance(exc, TapeworksError) and exc.status_code < 500:
        return exc.message
    reason = exc.public_reason if isinstance(exc, TapeworksError) \
        else "something went wrong on the server"
    return (f"{reason} while {stage}; this is not a problem with what you sent. The "
            f"administrator can find the cause in the server log under job {ref.id}; "
            "retry once it is fixed")


def _record_failure(rt: Any, ref: JobRef, stage: str, message: str) -> None:
    try:
        rt.database.run(lambda db: fail(db, rt, ref.id, stage=stage, message=message,
                                        lease_owner=ref.lease_owner))
        log.error("job.failed", job_id=ref.id, kind=ref.kind, attempt=ref.attempt, stage=stage,
                  error=message)
    except Exception as exc:  # the lease expires and the reconciler records the failure
        log.error("job.fail_record_failed", job_id=ref.id, error=str(exc)[:300])


# --- the reconciler ---------------------------------------------------------------------------
def reconcile_once(rt: Any, now: datetime | None = None) -> dict[str, int]:
    """Re-queue jobs whose lease expired (until max_attempts, then fail them) and re-send
    queued jobs whose message was lost (never before their `run_after`). Safe to run from
    any number of processes."""
    counts = {"requeued": 0, "failed": 0, "resent": 0}

    def _run(db: DbSession) -> None:
        at = now or utcnow()
        pg = db.get_bind().dialect.name == "postgresql"
        stmt = select(Job).where(Job.status == "running", Job.lease_expires_at < at)
        if pg:
            stmt = stmt.with_for_update(skip_locked=True)
        for job in db.scalars(stmt.execution_options(populate_existing=True)):
            if job.attempt >= job.max_attempts:
                reason = (f"the worker running it stopped responding (lease expired) on "
                          f"attempt {job.attempt} of {job.max_attempts}; giving up")
                fail(db, rt, job.id, stage=job.stage or "running", message=reason)
                counts["failed"] += 1
                log.error("job.failed", job_id=job.id, kind=job.kind, attempt=job.attempt,
                          reason=reason)
            else:
                requeue(db, rt, job, reason=f"worker lost on attempt {job.attempt}; retrying")
                counts["requeued"] += 1
                log.warning("job.requeued", job_id=job.id, kind=job.kind, attempt=job.attempt,
                            reason="lease expired", lease_owner=job.lease_owner)
        stale = at - timedelta(seconds=rt.settings.job_requeue_after_seconds)
        lost = select(Job).where(Job.status == "queued", Job.run_after < stale)
        if pg:
            lost = lost.with_for_update(skip_locked=True)
        for job in db.scalars(lost):
            job.enqueued_at = at
            job.run_after = at
            enqueue_after_commit(db, rt, job)
            counts["resent"] += 1
            log.info("job.resent", job_id=job.id, kind=job.kind)

    rt.database.run(_run)
    return counts
