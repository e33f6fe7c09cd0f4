"""The Huey adapter: Huey carries "run job X" messages; the `jobs` table is the truth.

Embedded default: Huey on a SQLite file in the data dir, consumer threads inside
`tapeworks serve`. At scale: `TAPEWORKS_QUEUE_URL=redis://...` and `tapeworks worker`
processes on any number of machines. A lost or duplicated message is harmless: claiming is
a compare-and-set on the job row, and the reconciler re-sends messages for queued jobs.

Each pool (`long`: transcriptions and renders; `short`: deliveries, mail, feed work) is
its own Huey queue with its own consumer threads, so a short job never waits behind an
hour-long render. The periodic jobs of the registry (and the reconciler) run as
`PeriodicThread`s next to the consumers.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Mapping
from typing import Any

from huey import RedisHuey, SqliteHuey
from huey.api import Huey
from huey.consumer import Consumer

from tapeworks.errors import ConfigError
from tapeworks.logging import get_logger
from tapeworks.queue.jobs import execute, reconcile_once
from tapeworks.queue.periodic import PeriodicThread
from tapeworks.queue.registry import POOLS, Pool

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

        def run_job(job_id: str) -> str:
            return execute(runtime, job_id)

        self._tasks = {pool: huey.task(name="tapeworks.run_job")(run_job)
                       for pool, huey in self.hueys.items()}
        self._consumers: list[Consumer] = []
        self._periodic: list[PeriodicThread] = []

    def enqueue(self, job_id: str, pool: str, delay: float = 0.0) -> None:
        task = self._tasks[pool]
        if delay > 0:
            task.schedule(args=(job_id,), delay=delay)
        else:
            task(job_id)
        log.info("job.enqueued", job_id=job_id, pool=pool, delay=delay, backend=self.backend)

    def pending(self) -> int:
        return sum(int(h.pending_count()) for h in self.hueys.values())

    def ping(self) -> str:
        return f"{self.backend}: {self.pending()} pending messages"

    # --- consumers and periodic jobs --------------------------------------------------------
    def start(self, threads: Mapping[Pool, int], *, periodic: bool = True) -> None:
        """Start consumer threads for each pool with threads > 0, and the periodic jobs."""
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
        """`tapeworks worker`: consume until SIGINT or SIGTERM, then stop."""
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

    def close(self) -> None:
        for thread in self._periodic:
            thread.stop()
        self._periodic = []
        for consumer in self._consumers:
            consumer.stop(graceful=False)
        self._consumers = []
