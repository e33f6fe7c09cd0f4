"""Scale: fair claiming across users, and graceful shutdown of workers and of `serve`."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tapeworks.db.base import utcnow
from tapeworks.plans.models import UsageEntry
from tapeworks.queue import jobs
from tapeworks.queue.models import Job
from tapeworks.runtime import Runtime
from tests.conftest import Api, make_settings, start_live_server
from tests.helpers import audio
from tests.helpers.api import add_user, http_client, login, upload_ok, wait_status
from tests.helpers.workers import start_tapeworks, start_worker


# --- fair claiming ---------------------------------------------------------------------------------
def _jobs(rt: Runtime) -> list[Job]:
    with rt.database.transaction(write=False) as db:
        return list(db.scalars(select(Job).order_by(Job.enqueued_at)))


def test_a_second_users_job_starts_right_after_the_one_running_when_it_arrived(
        db_url: str, make_api: Callable[..., Api], tmp_path: Path) -> None:
    """User A queues ten jobs, then user B one; one worker thread: B's job is the next one
    to start after the job that was running when B's arrived, not after A's other nine."""
    api = make_api(db_url, workers=1, short_workers=0, fake_realtime_factor=0.5,
                   job_heartbeat_seconds=0.5)
    a = api.create_user("a@example.com", plan="pro")
    b = api.create_user("b@example.com", plan="pro")
    tone = audio.write_tone(tmp_path / "t.wav", seconds=2.0)
    a_ids = [upload_ok(api.client, a, tone, title=f"a{i}") for i in range(10)]
    b_id = upload_ok(api.client, b, tone, title="b")
    for sid, headers in [*((s, a) for s in a_ids), (b_id, b)]:
        wait_status(api.client, headers, sid, timeout=120, fail=True)
    rows = _jobs(api.runtime)
    b_job = next(j for j in rows if j.owner_id == b_id)
    assert b_job.enqueued_at is not None and b_job.started_at is not None
    started_between = [j for j in rows if j.owner_id in a_ids and j.started_at is not None
                       and b_job.enqueued_at < j.started_at < b_job.started_at]
    # at most the one A job that was already claimed when B's arrived (claimed within ms)
    assert len(started_between) == 0, [(j.owner_id, j.started_at) for j in started_between]
    order = [j.owner_id for j in sorted(rows, key=lambda j: j.started_at or utcnow())]
    assert order.index(b_id) <= 2, order


def test_the_user_served_least_recently_goes_first_then_plan_priority(
        fresh_db_url: Callable[[str], str], tmp_path: Path, dialect: str) -> None:
    overrides = json.dumps({"pro": {"queue_priority": 5}})
    rt = Runtime(make_settings(tmp_path, fresh_db_url(dialect), plan_overrides=overrides))
    try:
        old = add_user(rt, "old@example.com", plan="free")
        prio = add_user(rt, "prio@example.com", plan="pro")
        served = add_user(rt, "served@example.com", plan="pro")
        now = utcnow()
        with rt.database.transaction() as db:
            def queued(user: str, minutes_ago: float) -> Job:
                job = Job(kind="transcribe", pool="long", user_id=user, status="queued",
                          enqueued_at=now - timedelta(minutes=minutes_ago),
                          run_after=now - timedelta(minutes=minutes_ago))
                db.add(job)
                return job
            a1, a2 = queued(old, 30), queued(old, 29)       # oldest jobs, free plan
            p1 = queued(prio, 5)                            # newer, pro plan (priority 5)
            s1 = queued(served, 40)                         # oldest of all, but just served
            db.add(Job(kind="transcribe", pool="long", user_id=served, status="completed",
                       started_at=now - timedelta(seconds=10), enqueued_at=now))
            later = Job(kind="transcribe", pool="long", user_id=prio, status="queued",
                        enqueued_at=now, run_after=now + timedelta(hours=1))  # not due
            db.add(later)
            db.flush()
            ids = {a1.id: "a1", a2.id: "a2", p1.id: "p1", s1.id: "s1"}
        with rt.database.transaction(write=False) as db:
            order = [ids.get(i, "?") for i in jobs.due_candidates(db, rt, "long", utcnow())]
        # never served: priority breaks the tie (p1 before a1); within a user oldest first;
        # the user served 10 s ago comes last although its job is the oldest
        assert order == ["p1", "a1", "a2", "s1"]
    finally:
        rt.close()


# --- graceful shutdown -----------------------------------------------------------------------------
def _scale_settings(tmp_path: Path, url: str, queue: str, **kw: Any) -> Any:
    values: dict[str, Any] = dict(workers=0, queue_url="redis://127.0.0.1:6379/0",
                                  queue_name=queue, fake_realtime_factor=0.8,
                                  job_lease_seconds=60.0, job_heartbeat_seconds=0.5,
                                  reconcile_interval_seconds=1.0, shutdown_grace_seconds=0.5)
    values.update(kw)
    return make_settings(tmp_path, url, **values)


def _wait_for(what: str, fn: Callable[[], Any], timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def _job_of(rt: Runtime, sid: str) -> Job:
    with rt.database.transaction(write=False) as db:
        job = db.scalar(select(Job).where(Job.owner_id == sid))
        assert job is not None
        return job


def _stop(*procs: subprocess.Popen[bytes] | None) -> None:
    for p in procs:
        if p is not None and p.poll() is None:
            p.kill()
            p.wait(10)


def test_sigterm_hands_a_running_job_to_another_worker_at_once(
        fresh_db_url: Callable[[str], str], redis_queue: str, tmp_path: Path) -> None:
    """SIGTERM mid-job: the job is released at once (the lease is 60 s, so expiry cannot be
    why), another worker takes it within seconds, it completes once, the released attempt
    is not counted, and the stopped worker exits 0."""
    settings = _scale_settings(tmp_path, fresh_db_url("postgresql"), redis_queue)
    srv = start_live_server(settings)
    log_a, log_b = tmp_path / "a.log", tmp_path / "b.log"
    first = start_worker(settings, log_a)
    second: subprocess.Popen[bytes] | None = None
    try:
        add_user(srv.runtime, "g@example.com", plan="pro")
        headers = login(srv.client, "g@example.com")
        long_file = audio.write_speechlike(tmp_path / "long.wav", seconds=40.0)
        sid = upload_ok(srv.client, headers, long_file)
        running = _wait_for("the first claim", lambda: (j := _job_of(srv.runtime, sid)).status
                            == "running" and j, 60)
        second = start_worker(settings, log_b)
        _wait_for("the second worker to start", lambda: "queue.worker_started" in log_b.read_text(),
                  120)
        stopped_at = time.monotonic()
        first.send_signal(signal.SIGTERM)
        taken = _wait_for("another worker to take the job", lambda: (
            j := _job_of(srv.runtime, sid)).status == "running"
            and j.lease_owner != running.lease_owner and j, 15)
        assert time.monotonic() - stopped_at < 10, "taken only after the lease would expire"
        assert first.wait(30) == 0, log_a.read_text()[-3000:]
        assert taken.attempt == 1  # the released attempt was not used up
        final = wait_status(srv.client, headers, sid, ("completed", "failed"), timeout=180,
                            fail=True)
        assert final["status"] == "completed" and final["attempt"] == 1, final
        with srv.runtime.database.transaction(write=False) as db:
            assert len(list(db.scalars(select(UsageEntry)))) == 1
        assert "job.released" in log_a.read_text()
        assert "job.completed" in log_b.read_text()
    finally:
        _stop(first, second)
        srv.stop()
        srv.runtime.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_sigterm_to_serve_releases_its_jobs_and_exits_0(
        fresh_db_url: Callable[[str], str], redis_queue: str, tmp_path: Path) -> None:
    settings = _scale_settings(tmp_path, fresh_db_url("postgresql"), redis_queue, workers=1)
    Runtime(settings).close()  # the data dir and its secret key exist for both processes
    port = _free_port()
    log_serve, log_worker = tmp_path / "serve.log", tmp_path / "worker.log"
    serve = start_tapeworks(settings, log_serve, "serve", "--port", str(port),
                            env={"TAPEWORKS_WORKERS": "1"})
    worker: subprocess.Popen[bytes] | None = None
    rt = Runtime(settings)
    try:
        client = http_client(f"http://127.0.0.1:{port}")
        _wait_for("serve to answer", lambda: _answers(client), 60)
        add_user(rt, "s@example.com", plan="pro")
        headers = login(client, "s@example.com")
        sid = upload_ok(client, headers, audio.write_speechlike(tmp_path / "l.wav", seconds=40.0))
        first = _wait_for("serve to claim", lambda: (j := _job_of(rt, sid)).status == "running"
                          and j, 60)
        worker = start_worker(settings, log_worker)
        _wait_for("the worker to start", lambda: "queue.worker_started" in log_worker.read_text(),
                  120)
        serve.send_signal(signal.SIGTERM)
        _wait_for("the worker to take the job", lambda: (j := _job_of(rt, sid)).status
                  == "running" and j.lease_owner != first.lease_owner, 15)
        assert serve.wait(30) == 0, log_serve.read_text()[-3000:]
        final = _wait_for("completion", lambda: (j := _job_of(rt, sid)).status
                          in ("completed", "failed") and j, 180)
        assert final.status == "completed" and final.attempt == 1
        assert "job.released" in log_serve.read_text()
    finally:
        _stop(serve, worker)
        rt.close()


def _answers(client: Any) -> bool:
    try:
        return bool(client.get("/healthz").status_code == 200)
    except Exception:
        return False


# --- metrics for autoscalers -------------------------------------------------------------------------
def test_metrics_report_queue_depth_age_running_finished_and_durations(
        db_url: str, make_api: Callable[..., Api]) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    api = make_api(db_url, metrics_token="metrics-token-for-the-test")
    user = add_user(api.runtime, "m@example.com")
    now = utcnow()
    with api.runtime.database.transaction() as db:
        for minutes in (3, 1):
            db.add(Job(kind="transcribe", pool="long", user_id=user, status="queued",
                       enqueued_at=now - timedelta(minutes=minutes),
                       run_after=now - timedelta(minutes=minutes)))
        db.add(Job(kind="transcribe", pool="long", user_id=user, status="queued",
                   enqueued_at=now, run_after=now + timedelta(hours=1)))  # not due: not counted
        db.add(Job(kind="render_episode", pool="long", user_id=user, status="running",
                   started_at=now))
        for seconds, status in ((4, "completed"), (40, "completed"), (7, "failed")):
            db.add(Job(kind="transcribe", pool="long", user_id=user, status=status,
                       started_at=now - timedelta(seconds=seconds), finished_at=now))
    text = api.client.get("/metrics",
                          headers={"Authorization": "Bearer metrics-token-for-the-test"}).text
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for f in text_string_to_metric_families(text) for s in f.samples}
    kind = (("kind", "transcribe"), ("pool", "long"))
    assert samples[("tapeworks_queue_depth", kind)] == 2
    assert 170 <= samples[("tapeworks_queue_oldest_age_seconds", kind)] <= 400
    assert samples[("tapeworks_jobs_running", (("kind", "render_episode"), ("pool", "long")))] == 1
    assert samples[("tapeworks_jobs_finished", (("kind", "transcribe"), ("status", "completed")))] == 2
    assert samples[("tapeworks_jobs_finished", (("kind", "transcribe"), ("status", "failed")))] == 1
    assert samples[("tapeworks_job_duration_seconds_bucket", (("kind", "transcribe"), ("le", "5.0")))] == 1
    assert samples[("tapeworks_job_duration_seconds_bucket", (("kind", "transcribe"), ("le", "60.0")))] == 2
    assert samples[("tapeworks_job_duration_seconds_count", (("kind", "transcribe"),))] == 2
    assert abs(samples[("tapeworks_job_duration_seconds_sum", (("kind", "transcribe"),))] - 44) < 1
    assert samples[("tapeworks_queue_metrics_up", ())] == 1
