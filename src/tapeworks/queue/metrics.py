"""Queue metrics for autoscalers, read from the `jobs` table at scrape time.

Every API process reports the same numbers (they come from the database, not from the
process), so dashboards and autoscalers must aggregate with `max`, not `sum`, over
processes: e.g. `max by (pool) (tapeworks_queue_depth)`. The duration histogram is
cumulative over the job rows the database keeps (it drops when sessions are deleted, which
`rate()` treats as a counter reset).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import case, func, or_, select

from tapeworks.db.base import utcnow
from tapeworks.logging import get_logger
from tapeworks.queue.models import Job

log = get_logger("tapeworks.metrics")

DURATION_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0)


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


class QueueCollector(Collector):
    def __init__(self, database: Any) -> None:
        self.database = database

    def describe(self) -> list[Metric]:
        return []  # collected at scrape time only (the registry must not call collect() early)

    def collect(self) -> Iterator[Metric]:
        try:
            with self.database.transaction(write=False) as db:
                yield from self._collect(db, utcnow())
        except Exception as exc:  # a scrape never fails the endpoint; the gauge says so
            log.warning("metrics.queue_unavailable", error=str(exc)[:200])
            up = GaugeMetricFamily("tapeworks_queue_metrics_up",
                                   "1 when the queue metrics could be read from the database")
            up.add_metric([], 0)
            yield up

    def _collect(self, db: Any, now: datetime) -> Iterator[Metric]:
        due = or_(Job.run_after.is_(None), Job.run_after <= now)
        labels = ["kind", "pool"]
        depth = GaugeMetricFamily("tapeworks_queue_depth",
                                  "Jobs queued and due, by kind (take the max over processes)",
                                  labels=labels)
        oldest = GaugeMetricFamily("tapeworks_queue_oldest_age_seconds",
                                   "Age of the oldest due queued job, by kind", labels=labels)
        for kind, pool, n, first in db.execute(
                select(Job.kind, Job.pool, func.count(),
                       func.min(func.coalesce(Job.run_after, Job.enqueued_at)))
                .where(Job.status == "queued", due).group_by(Job.kind, Job.pool)):
            depth.add_metric([kind, pool], n)
            oldest.add_metric([kind, pool],
                              max(0.0, (now - _aware(first)).total_seconds()) if first else 0.0)
        running = GaugeMetricFamily("tapeworks_jobs_running", "Jobs running now, by kind",
                                    labels=labels)
        for kind, pool, n in db.execute(select(Job.kind, Job.pool, func.count())
                                        .where(Job.status == "running")
                                        .group_by(Job.kind, Job.pool)):
            running.add_metric([kind, pool], n)
        finished = GaugeMetricFamily("tapeworks_jobs_finished",
                                     "Jobs finished, by kind and outcome (rows kept)",
                                     labels=["kind", "status"])
        for kind, status, n in db.execute(
                select(Job.kind, Job.status, func.count())
                .where(Job.status.in_(("completed", "failed", "cancelled")))
                .group_by(Job.kind, Job.status)):
            finished.add_metric([kind, status], n)
        yield from (depth, oldest, running, finished)
        yield self._durations(db)
        up = GaugeMetricFamily("tapeworks_queue_metrics_up",
                               "1 when the queue metrics could be read from the database")
        up.add_metric([], 1)
        yield up

    def _durations(self, db: Any) -> Metric:
        """Seconds from start to finish of completed jobs, by kind, as a cumulative histogram
        computed in one query (the database sums the bucket counts)."""
        family = HistogramMetricFamily("tapeworks_job_duration_seconds",
                                       "Run time of completed jobs (last attempt), by kind",
                                       labels=["kind"])
        if db.get_bind().dialect.name == "sqlite":
            seconds: Any = (func.julianday(Job.finished_at) - func.julianday(Job.started_at)) * 86400.0
        else:
            seconds = func.extract("epoch", Job.finished_at - Job.started_at)
        cols = [func.sum(case((seconds <= b, 1), else_=0)) for b in DURATION_BUCKETS]
        for row in db.execute(select(Job.kind, func.count(), func.coalesce(func.sum(seconds), 0),
                                     *cols)
                              .where(Job.status == "completed", Job.started_at.is_not(None),
                                     Job.finished_at.is_not(None))
                              .group_by(Job.kind).order_by(Job.kind)):
            kind, total, sum_seconds, *counts = row
            buckets = [(str(b), int(c or 0)) for b, c in zip(DURATION_BUCKETS, counts, strict=True)]
            buckets.append(("+Inf", int(total)))
            family.add_metric([kind], buckets, float(sum_seconds or 0.0))
        return family
