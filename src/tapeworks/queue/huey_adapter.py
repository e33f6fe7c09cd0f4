"""The Huey adapter: Huey carries wake-ups; the `jobs` table is the truth.

Embedded default: Huey on a SQLite file in the data dir, consumer threads inside
`tapeworks serve`. At scale: `TAPEWORKS_QUEUE_URL=redis://...` and `tapeworks worker`
processes on any number of machines. A message says only "a job of this pool may be due":
the woken consumer asks the database for the fairest due job (`jobs.claim_next`), so a lost
or duplicated message is harmless, and the reconciler re-sends wake-ups for waiting jobs.

Each pool (`long`: transcriptions and renders; `short`: deliveries, mail, feed work) is its
own Huey queue with its own consumer threads, so a short job never waits behind an hour-long
render. The periodic jobs of the registry (and the reconciler) run as `PeriodicThread`s next
to the consumers.

Shutdown (`close`): stop claiming, give running jobs `TAPEWORKS_SHUTDOWN_GRACE_SECONDS` to
finish, then release the leases of those still running (back to the queue at once, without
using up an attempt) so another worker takes them now rather than when the lease expires.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from huey import RedisHuey, SqliteHuey
from huey.api import Huey
from huey.consumer import Consumer

from tapeworks.errors import ConfigError
from tapeworks.logging import get_logger
from tapeworks.queue.jobs import execute_next, reconcile_once, release
from tapeworks.queue.periodic import PeriodicThread
from tapeworks.queue.registry import POOLS, Pool

if TYPE_CHECKING:
    from tapeworks.queue.jobs import JobContext

log = get_logger("tapeworks.queue")


class _EmbeddedConsumer(Consumer):
    """A Huey consumer that runs inside another program: it leaves signals to the host."""

    def _set_signal_handlers(self) -> None:
        return None


class Queue:
    def __init__(self, rt: Any) -> None:
        self.rt = rt
        s = rt.settings
        self.hueys: dict[str, Huey] = {}
        for pool in POOLS:
            name = s.queue_name if pool == "long" else f"{s.queue_name}-{pool}"
            if s.queue_url.startswith(("redis://", "rediss://", "unix://")):
                self.hueys[pool] = RedisHuey(name, url=s.queue_url, results=False, utc=True)
                self.backend = "redis"
            elif s.queue_url in ("", "sqlite") or s.queue_url.startswith("sqlite:///"):
                path = s.queue_url.removeprefix("sqlite:///") if s.queue_url.startswith("sqlite:///") \
                    else str(s.data_dir / "queue.db")
                self.hueys[pool] = SqliteHuey(name, filename=path, results=False, utc=True)
                self.backend = "sqlite"
            else:
                raise ConfigError(f"TAPEWORKS_QUEUE_URL {s.queue_url!r}: use redis://host:port/db "
                                  "or leave it empty for the embedded SQLite queue")
        runtime = rt

        def run_pool(pool: str) -> str:
            return execute_next(runtime, pool)

        self._tasks = {pool: huey.task(name="tapeworks.run_pool")(run_pool)
                       for pool, huey in self.hueys.items()}
        self._consumers: list[Consumer] = []
        self._periodic: list[PeriodicThread] = []
        self._running: set[JobContext] = set()
        self._lock = threading.Lock()
        self.draining = False

    def wake(self, pool: str, delay: float = 0.0) -> None:
        """Tell a consumer of `pool` that a job may be due (at `delay` seconds from now)."""
        task = self._tasks[pool]
        if delay > 0:
            task.schedule(args=(pool,), delay=delay)
        else:
            task(pool)
        log.info("queue.woken", pool=pool, delay=delay, backend=self.backend)

    def pending(self) -> int:
        return sum(int(h.pending_count()) for h in self.hueys.values())

    def ping(self) -> str:
        return f"{self.backend}: {self.pending()} pending messages"

    # --- what runs in this process ----------------------------------------------------------
    def running_started(self, ctx: JobContext) -> None:
        with self._lock:
            self._running.add(ctx)

    def running_finished(self, ctx: JobContext) -> None:
        with self._lock:
            self._running.discard(ctx)

    def running(self) -> list[JobContext]:
        with self._lock:
            return list(self._running)

    # --- consumers and periodic jobs --------------------------------------------------------
    def start(self, threads: Mapping[Pool, int], *, periodic: bool = True) -> None:
        """Start consumer threads for each pool with threads > 0, and the periodic jobs."""
        self.draining = False
        for pool, n in threads.items():
            if n > 0:
                consumer = _EmbeddedConsumer(
                    self.hueys[pool], workers=n, worker_type="thread", periodic=False,
                    initial_delay=0.05, max_delay=1.0, check_worker_health=False)
                consumer.start()
                self._consumers.append(consumer)
        if periodic:
            self._start_periodic()
        log.info("queue.consumers_started", threads=dict(threads), backend=self.backend)
        for pool, n in threads.items():
            if n > 0:
                self.wake(pool)  # jobs queued while no consumer ran

    def _start_periodic(self) -> None:
        rt = self.rt
        s = rt.settings

        def reconcile() -> None:
            counts = reconcile_once(rt)
            if any(counts.values()):
                log.info("job.reconciled", **counts)

        jobs: list[tuple[str, float, Any]] = [("reconciler", s.reconcile_interval_seconds, reconcile)]
        for job in rt.registry.periodic:
            jobs.append((job.name, job.interval(s), lambda j=job: j.run(rt)))
        for name, interval, fn in jobs:
            if interval > 0:
                thread = PeriodicThread(name, interval, fn, event=f"{name}.run")
                thread.start()
                self._periodic.append(thread)

    def run_forever(self, threads: Mapping[Pool, int]) -> None:
        """`tapeworks worker`: consume until SIGINT or SIGTERM, then shut down gracefully."""
        stop = threading.Event()

        def on_signal(signum: int, _frame: object) -> None:
            log.info("queue.worker_stopping", signal=signal.Signals(signum).name)
            stop.set()

        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, on_signal)
        self.start(threads)
        log.info("queue.worker_started", threads=dict(threads), backend=self.backend)
        stop.wait()
        self.close()

    def drain(self, grace: float) -> dict[str, int]:
        """Stop taking messages and claiming; wait up to `grace` seconds for running jobs;
        release the rest."""
        self.draining = True
        for consumer in self._consumers:
            consumer.stop_flag.set()  # no new messages; the running ones go on
        deadline = time.monotonic() + grace
        while self.running() and time.monotonic() < deadline:
            time.sleep(0.05)
        released = 0
        for ctx in self.running():
            ctx._abandoned.set()  # the work stops at its next check and writes nothing
            try:
                if self.rt.database.run(lambda db, c=ctx: release(
                        db, self.rt, c.ref, reason="the worker running it shut down; waiting "
                        "for another worker")):
                    released += 1
                    log.info("job.released", job_id=ctx.ref.id, kind=ctx.ref.kind,
                             attempt=ctx.ref.attempt)
            except Exception as exc:  # the lease will expire; the reconciler takes over
                log.error("job.release_failed", job_id=ctx.ref.id, error=str(exc)[:300])
        return {"released": released}

    def close(self, grace: float | None = None) -> None:
        if self._consumers:
            counts = self.drain(self.rt.settings.shutdown_grace_seconds if grace is None
                                else grace)
            log.info("queue.stopped", **counts)
        for thread in self._periodic:
            thread.stop()
        self._periodic = []
        for consumer in self._consumers:
            consumer.stop(graceful=False)
        self._consumers = []
