"""What the queue is given: job handlers, job owners, the admission check, periodic jobs.

The queue imports no domain (DESIGN rule 15). The composition root
(`tapeworks.background`) builds one `Registry` listing what every domain contributes;
`serve`, `tapeworks worker` and the CLI all build the same one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from sqlalchemy.orm import Session as DbSession

from tapeworks.errors import ConfigError

if TYPE_CHECKING:
    from tapeworks.config import Settings
    from tapeworks.queue.jobs import JobContext
    from tapeworks.queue.models import Job

Pool = Literal["long", "short"]
POOLS: tuple[Pool, ...] = ("long", "short")


class JobHandler(Protocol):
    """One kind of job. `pool` and `max_attempts` are class attributes of the handler."""

    kind: str
    pool: Pool  # "long": transcriptions, renders; "short": deliveries, mail, feed work
    max_attempts: int | None  # None: the `TAPEWORKS_JOB_MAX_ATTEMPTS` setting

    def prepare(self, db: DbSession, job: Job) -> Any:
        """Claim phase: check the owner and copy what the work needs into a plain payload."""

    def work(self, ctx: JobContext, payload: Any) -> Any:
        """Work phase: no database session. Return a plain result."""

    def save(self, db: DbSession, job: Job, payload: Any, result: Any) -> None:
        """Save phase: write results idempotently (a retried job may save twice)."""


@dataclass(frozen=True)
class OwnerKind:
    """Something jobs run for (a session, an episode) that shows its current job's status.

    `model` is the ORM class whose rows carry the mirrored columns (status,
    progress_percentage, stage, message, eta_seconds, attempt, error, error_stage,
    completed_at, current_job_id). `children(db, owner_id)` names owners whose jobs go
    when this owner is deleted (a session's episodes). `on_finished(db, rt, owner, job)`
    runs in the transaction that completes or fails the owner's current job (the outbox
    writes its event there, rule 13).
    """

    name: str
    model: type[Any]
    children: Callable[[DbSession, str], list[tuple[str, str]]] | None = None
    on_finished: Callable[[DbSession, Any, Any, Job], None] | None = None


@dataclass(frozen=True)
class PeriodicJob:
    """A function run every `interval(settings)` seconds next to the reconciler
    (0 or less: not in this process)."""

    name: str
    interval: Callable[[Settings], float]
    run: Callable[[Any], Any]  # run(rt)


Admission = Callable[[DbSession, Any, "Job"], bool]  # admission(db, rt, job): may it start now?
# priority(db, rt, user_ids) -> {user_id: priority}: the tie-breaker between users whose turn
# it equally is (higher first; users not named count as 0)
Priority = Callable[[DbSession, Any, list[str]], dict[str, int]]


@dataclass
class Registry:
    handlers: dict[str, JobHandler] = field(default_factory=dict)
    owners: dict[str, OwnerKind] = field(default_factory=dict)
    periodic: list[PeriodicJob] = field(default_factory=list)
    admission: Admission | None = None
    priority: Priority | None = None

    def add_handler(self, handler: JobHandler) -> None:
        if handler.pool not in POOLS:
            raise ConfigError(f"job kind {handler.kind!r}: pool must be one of {POOLS}")
        self.handlers[handler.kind] = handler

    def add_owner(self, owner: OwnerKind) -> None:
        self.owners[owner.name] = owner

    def handler(self, kind: str) -> JobHandler:
        try:
            return self.handlers[kind]
        except KeyError:
            raise ConfigError(f"no handler for job kind {kind!r} in this process; kinds are: "
                              f"{', '.join(sorted(self.handlers)) or 'none'}") from None

    def owner_model(self, kind: str | None) -> type[Any] | None:
        spec = self.owners.get(kind) if kind else None
        return spec.model if spec else None
