"""The job queue: Huey carries "run job X" messages; the `jobs` table is the truth.

Embedded default: Huey on a SQLite file in the data dir, consumer threads inside
`tapeworks serve`. At scale: `TAPEWORKS_QUEUE_URL=redis://...` and `tapeworks worker`
processes on any number of machines. A lost or duplicated message is harmless: claiming is
a compare-and-set on the job row, and the reconciler re-sends messages for queued jobs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from huey import RedisHuey, SqliteHuey
from huey.api import Huey
from huey.consumer import Consumer

from tapeworks.logging import get_logger
from tapeworks.queue.jobs import Reconciler, execute
from tapeworks.queue.periodic import PeriodicThread

if TYPE_CHECKING:
    from tapeworks.runtime import Runtime

log = get_logger("tapeworks.queue")


class _EmbeddedConsumer(Consumer):
    """A Huey consumer that runs inside another program: it leaves signals to the host."""

    def _set_signal_handlers(self) -> None:
        return None


class Queue:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        s = rt.settings
        self.huey: Huey
        if s.queue_url.startswith(("redis://", "rediss://", "unix://")):
            self.huey = RedisHuey(s.queue_name, url=s.queue_url, results=False, utc=True)
            self.backend = "redis"
        elif s.queue_url in ("", "sqlite") or s.queue_url.startswith("sqlite:///"):
            path = s.queue_url.removeprefix("sqlite:///") if s.queue_url.startswith("sqlite:///") \
                else str(s.data_dir / "queue.db")
            self.huey = SqliteHuey(s.queue_name, filename=path, results=False, utc=True)
            self.backend = "sqlite"
        else:
            from tapeworks.errors import ConfigError

            raise ConfigError(f"TAPEWORKS_QUEUE_URL {s.queue_url!r}: use redis://host:port/db "
                              "or leave it empty for the embedded SQLite queue")
        runtime = rt

        def run_job(job_id: str) -> str:
            return execute(runtime, job_id)

        self._run_job = self.huey.task(name="tapeworks.run_job")(run_job)
        self._consumer: Consumer | None = None
        self._reconciler: PeriodicThread | None = None
        self._purger: PeriodicThread | None = None

    def enqueue(self, job_id: str, delay: float = 0.0) -> None:
        if delay > 0:
            self._run_job.schedule(args=(job_id,), delay=delay)
        else:
            self._run_job(job_id)
        log.info("job.enqueued", job_id=job_id, delay=delay, backend=self.backend)

    def pending(self) -> int:
        return int(self.huey.pending_count())

    def ping(self) -> str:
        n = self.pending()
        return f"{self.backend}: {n} pending messages"

    def start_consumers(self, threads: int, *, reconcile: bool = True) -> None:
        """Start consumer threads (and the reconciler) in this process."""
        if threads > 0:
            self._consumer = _EmbeddedConsumer(
                self.huey, workers=threads, worker_type="thread", periodic=False,
                initial_delay=0.05, max_delay=1.0, check_worker_health=False,
            )
            self._consumer.start()
        if reconcile:
            self._reconciler = Reconciler(self.rt)
            self._reconciler.start()
            self._start_purger()
        log.info("queue.consumers_started", threads=threads, backend=self.backend)

    def run_forever(self, threads: int) -> None:
        """`tapeworks worker`: block in the main thread, stop on SIGINT/SIGTERM."""
        self._reconciler = Reconciler(self.rt)
        self._reconciler.start()
        self._start_purger()
        consumer = self.huey.create_consumer(workers=threads, worker_type="thread",
                                             periodic=False, initial_delay=0.05, max_delay=1.0)
        log.info("queue.worker_started", threads=threads, backend=self.backend)
        consumer.run()

    def _start_purger(self) -> None:
        """The periodic retention purge (rule 8), next to the reconciler."""
        from tapeworks.retention.service import Purger

        if self.rt.settings.purge_interval_seconds > 0:
            self._purger = Purger(self.rt)
            self._purger.start()

    def close(self) -> None:
        if self._purger is not None:
            self._purger.stop()
            self._purger = None
        if self._reconciler is not None:
            self._reconciler.stop()
            self._reconciler = None
        if self._consumer is not None:
            self._consumer.stop(graceful=False)
            self._consumer = None

