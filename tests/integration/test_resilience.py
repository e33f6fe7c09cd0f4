"""Nothing is lost or stuck: restarts, killed workers, dropped connections (rules 4, 5, 6, 9)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy import func, select

from tapeworks.plans.models import UsageEntry
from tapeworks.queue.models import Job
from tests.conftest import PG_ADMIN_DSN, SPEECH_DIR, LiveServer, make_settings, start_live_server
from tests.fixtures import audio

JFK = SPEECH_DIR / "jfk.flac"


def _login(url: str, email: str, password: str = "password123") -> dict[str, str]:
    r = httpx.post(f"{url}/api/v1/auth/login", json={"email": email, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def _create_user(srv: LiveServer, email: str) -> dict[str, str]:
    from tapeworks.users import service as users

    with srv.runtime.database.transaction() as db:
        users.create_user(db, email=email, password="password123", plan="pro")
    return _login(srv.url, email)


def _upload(url: str, headers: dict[str, str], path: Path) -> str:
    with open(path, "rb") as fh:
        r = httpx.post(f"{url}/api/v1/sessions", headers=headers,
                       files={"file": (path.name, fh)}, data={"title": "resilience"}, timeout=60)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _wait(url: str, headers: dict[str, str], sid: str, want: tuple[str, ...], timeout: float = 90.0
          ) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        st = httpx.get(f"{url}/api/v1/sessions/{sid}/status", headers=headers, timeout=30).json()
        if st.get("status") in want:
            return dict(st)
        if time.monotonic() > deadline:
            pytest.fail(f"session {sid} did not reach {want}: {st}")
        time.sleep(0.1)


# --- restart -----------------------------------------------------------------------------
def test_restart_with_scratch_wiped_still_serves_the_transcript(
    fresh_db_url: Callable[[str], str], tmp_path: Path
) -> None:
    """Embedded default: stop the service, delete every local scratch file, start again."""
    url = fresh_db_url("sqlite")
    settings = make_settings(tmp_path, url, workers=2)
    srv = start_live_server(settings)
    headers = _create_user(srv, "r@example.com")
    sid = _upload(srv.url, headers, JFK)
    _wait(srv.url, headers, sid, ("completed",))
    before = httpx.get(f"{srv.url}/api/v1/sessions/{sid}/transcript", headers=headers).json()
    srv.stop()
    srv.runtime.close()
    shutil.rmtree(settings.scratch_dir)

    srv2 = start_live_server(make_settings(tmp_path, url, workers=2))
    try:
        after = httpx.get(f"{srv2.url}/api/v1/sessions/{sid}/transcript", headers=headers)
        assert after.status_code == 200
        assert after.json() == before
        st = httpx.get(f"{srv2.url}/api/v1/sessions/{sid}/status", headers=headers).json()
        assert st["status"] == "completed"
    finally:
        srv2.stop()
        srv2.runtime.close()


def test_restart_on_a_new_machine_reads_everything_from_the_bucket(
    fresh_db_url: Callable[[str], str], s3_server: str, tmp_path: Path
) -> None:
    """PostgreSQL + S3: delete the whole data directory; the transcript comes from the bucket."""
    url = fresh_db_url("postgresql")
    bucket = f"tw-{uuid.uuid4().hex[:8]}"
    import boto3

    boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1",
                 aws_access_key_id="test", aws_secret_access_key="test").create_bucket(Bucket=bucket)
    env = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}
    os.environ.update(env)
    storage = f"s3://{bucket}/tw?endpoint={s3_server}"
    data1, data2 = tmp_path / "machine1", tmp_path / "machine2"
    srv = start_live_server(make_settings(data1, url, workers=2, storage_url=storage))
    headers = _create_user(srv, "s3@example.com")
    sid = _upload(srv.url, headers, JFK)
    _wait(srv.url, headers, sid, ("completed",))
    before = httpx.get(f"{srv.url}/api/v1/sessions/{sid}/transcript", headers=headers).json()
    srv.stop()
    srv.runtime.close()
    shutil.rmtree(data1)

    srv2 = start_live_server(make_settings(data2, url, workers=2, storage_url=storage))
    try:
        assert httpx.get(f"{srv2.url}/api/v1/sessions/{sid}/transcript", headers=headers).json() == before
        audio_bytes = httpx.get(f"{srv2.url}/api/v1/sessions/{sid}/audio", headers=headers).content
        assert audio_bytes == JFK.read_bytes()
    finally:
        srv2.stop()
        srv2.runtime.close()


# --- a worker killed mid-job -------------------------------------------------------------------
def _worker_env(settings: Any) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAPEWORKS_")}
    env.update({
        "TAPEWORKS_DATA_DIR": str(settings.data_dir),
        "TAPEWORKS_DATABASE_URL": settings.database_url,
        "TAPEWORKS_QUEUE_URL": settings.queue_url,
        "TAPEWORKS_QUEUE_NAME": settings.queue_name,
        "TAPEWORKS_SECRET_KEY": settings.secret_key,
        "TAPEWORKS_SPEECH_ENGINE": "fake",
        "TAPEWORKS_FAKE_REALTIME_FACTOR": str(settings.fake_realtime_factor),
        "TAPEWORKS_JOB_LEASE_SECONDS": str(settings.job_lease_seconds),
        "TAPEWORKS_JOB_HEARTBEAT_SECONDS": str(settings.job_heartbeat_seconds),
        "TAPEWORKS_RECONCILE_INTERVAL_SECONDS": str(settings.reconcile_interval_seconds),
        "TAPEWORKS_ENVIRONMENT": "test",
    })
    return env


def _start_worker(settings: Any, log: Path) -> subprocess.Popen[bytes]:
    exe = Path(sys.executable).with_name("tapeworks")
    return subprocess.Popen([str(exe), "worker", "--threads", "1"], env=_worker_env(settings),
                            stdout=log.open("ab"), stderr=subprocess.STDOUT)


def test_worker_killed_mid_job_is_retried_and_completes_once(
    fresh_db_url: Callable[[str], str], redis_queue: str, tmp_path: Path
) -> None:
    url = fresh_db_url("postgresql")
    settings = make_settings(
        tmp_path, url, workers=0, queue_url="redis://127.0.0.1:6379/0", queue_name=redis_queue,
        fake_realtime_factor=0.6, job_lease_seconds=3.0, job_heartbeat_seconds=0.5,
        reconcile_interval_seconds=1.0,
    )
    srv = start_live_server(settings)  # API only: no consumers in this process
    log = tmp_path / "worker.log"
    first = _start_worker(settings, log)
    second: subprocess.Popen[bytes] | None = None
    try:
        headers = _create_user(srv, "k@example.com")
        sid = _upload(srv.url, headers, JFK)
        st = _wait(srv.url, headers, sid, ("processing",), timeout=60)
        deadline = time.monotonic() + 30
        while st["progress_percentage"] < 20 and time.monotonic() < deadline:
            time.sleep(0.2)
            st = _wait(srv.url, headers, sid, ("processing", "completed"))
        assert st["status"] == "processing", st
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        second = _start_worker(settings, log)
        final = _wait(srv.url, headers, sid, ("completed", "failed"), timeout=120)
        assert final["status"] == "completed", (final, log.read_text()[-3000:])
        assert final["attempt"] == 2
        with srv.runtime.database.transaction(write=False) as db:
            jobs = list(db.scalars(select(Job)))
            assert len(jobs) == 1 and jobs[0].status == "completed" and jobs[0].attempt == 2
            assert db.scalar(select(func.count()).select_from(Job).where(Job.status == "running")) == 0
            assert db.scalar(select(func.count()).select_from(UsageEntry)) == 1
        assert "job.requeued" in log.read_text()
    finally:
        for p in (first, second):
            if p is not None and p.poll() is None:
                p.terminate()
                p.wait(10)
        srv.stop()
        srv.runtime.close()


def test_job_past_its_attempt_limit_fails_with_the_reason(
    fresh_db_url: Callable[[str], str], make_api: Callable[..., Any]
) -> None:
    """Every attempt's worker vanishes: after max_attempts the job fails and says why."""
    from datetime import timedelta

    from tapeworks.db.base import utcnow
    from tapeworks.queue.jobs import reconcile_once

    api = make_api(fresh_db_url("sqlite"), workers=0, job_max_attempts=2)
    headers = api.create_user("lost@example.com", plan="pro")
    sid = upload_path(api, headers, JFK)
    with api.runtime.database.transaction() as db:
        job = db.scalars(select(Job)).one()
        job.status, job.attempt = "running", 2
        job.lease_owner, job.lease_expires_at = "gone-host:1", utcnow() - timedelta(seconds=5)
    assert reconcile_once(api.runtime) == {"requeued": 0, "failed": 1, "resent": 0}
    st = api.client.get(f"/api/v1/sessions/{sid}/status", headers=headers).json()
    assert st["status"] == "failed"
    assert "stopped responding" in st["error"] and st["error_stage"]


def upload_path(api: Any, headers: dict[str, str], path: Path) -> str:
    with open(path, "rb") as fh:
        r = api.client.post("/api/v1/sessions", headers=headers, files={"file": (path.name, fh)})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


# --- dropped connections and a PostgreSQL restart -----------------------------------------------
def _terminate_backends(dbname: str) -> int:
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()", (dbname,)).fetchall()
    return len(rows)


def _restart_postgres() -> None:
    version = sorted(os.listdir("/etc/postgresql"))[0]
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"],
                   check=True, capture_output=True, timeout=60)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            psycopg.connect(PG_ADMIN_DSN, connect_timeout=2).close()
            return
        except psycopg.OperationalError:
            time.sleep(0.2)
    pytest.fail("PostgreSQL did not come back after the restart")


def test_job_survives_terminated_connections_and_a_postgres_restart(
    fresh_db_url: Callable[[str], str], tmp_path: Path
) -> None:
    url = fresh_db_url("postgresql")
    dbname = url.rsplit("/", 1)[1]
    long_file = audio.write_speechlike(tmp_path / "talk.wav", seconds=20.0)
    settings = make_settings(tmp_path, url, workers=1, fake_realtime_factor=0.4,
                             job_lease_seconds=30.0, job_heartbeat_seconds=0.5)
    srv = start_live_server(settings)
    try:
        headers = _create_user(srv, "pg@example.com")
        sid = _upload(srv.url, headers, long_file)
        _wait(srv.url, headers, sid, ("processing",))
        killed = 0
        for _ in range(3):  # kill the job's connections while it works (progress + heartbeat)
            time.sleep(0.7)
            killed += _terminate_backends(dbname)
        assert killed > 0
        restarted = threading.Event()

        def restart_when_working() -> None:
            _restart_postgres()
            restarted.set()

        t = threading.Thread(target=restart_when_working)
        t.start()
        t.join(60)
        assert restarted.is_set()
        final = _wait(srv.url, headers, sid, ("completed", "failed"), timeout=120)
        assert final["status"] == "completed", final
        with srv.runtime.database.transaction(write=False) as db:
            job = db.scalars(select(Job)).one()
            assert job.status == "completed" and job.attempt == 1
            assert db.scalar(select(func.count()).select_from(UsageEntry)) == 1
    finally:
        srv.stop()
        srv.runtime.close()
