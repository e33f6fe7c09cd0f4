"""What a session or an episode shows of its current job, and the status JSON built from it.

Both owners carry the same mirrored columns (status, progress_percentage, stage, message,
eta_seconds, attempt, error, error_stage, completed_at, current_job_id); the job handlers
copy them in the same transaction that changes the job.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from sqlalchemy import Select, select
from sqlalchemy.orm import Session as DbSession

from tapeworks.errors import NotFound
from tapeworks.queue.models import Job

JOB_TO_OWNER_STATUS = {"queued": "queued", "running": "processing", "completed": "completed",
                       "failed": "failed", "cancelled": "cancelled"}


def load_owner(db: DbSession, stmt: Select[Any], *, owner_kind: str, owner_id: str, what: str,
               for_update: bool) -> Any:
    """Load a session or episode (404 naming it when absent). `for_update` locks in the one
    order every writer uses, the owner's jobs first and then the owner, because a worker's
    progress write updates its job and then mirrors onto the owner: no deadlock."""
    if for_update and db.get_bind().dialect.name == "postgresql":
        if db.execute(stmt).first() is None:
            raise NotFound(f"{what} {owner_id} not found")
        db.execute(select(Job.id).where(Job.owner_kind == owner_kind, Job.owner_id == owner_id)
                   .with_for_update())
        stmt = stmt.with_for_update()
    owner = db.scalar(stmt.execution_options(populate_existing=True))
    if owner is None:
        raise NotFound(f"{what} {owner_id} not found")
    return owner


def mirror_job(owner: Any, job: Job) -> None:
    """Copy the job's state onto its session or episode, if it is the owner's current job."""
    if owner.current_job_id != job.id:
        return
    owner.status = JOB_TO_OWNER_STATUS[job.status]
    owner.progress_percentage = 100.0 if job.status == "completed" else min(job.progress, 99.9)
    owner.stage = job.stage
    owner.message = job.message
    owner.eta_seconds = job.eta_seconds
    owner.attempt = job.attempt
    if job.status == "failed":
        owner.error, owner.error_stage = job.error_message, job.error_stage
    if job.status == "completed":
        owner.completed_at = job.finished_at


class JobStatusOut(BaseModel):
    """`GET /sessions/{id}/status` and `GET /episodes/{id}/status`."""

    status: str
    progress_percentage: float
    stage: str
    message: str
    eta_seconds: float | None
    attempt: int
    error: str | None = None
    error_stage: str | None = None

    @classmethod
    def of(cls, owner: Any) -> JobStatusOut:
        return cls(status=owner.status, progress_percentage=round(owner.progress_percentage, 1),
                   stage=owner.stage, message=owner.message, eta_seconds=owner.eta_seconds,
                   attempt=owner.attempt, error=owner.error, error_stage=owner.error_stage)
