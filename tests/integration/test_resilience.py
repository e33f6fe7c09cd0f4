"""Nothing is lost or stuck: restarts, killed workers, dropped connections (rules 4, 5, 6, 9)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
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
from tests.conftest import PG_ADMIN_DSN, LiveServer, make_settings, start_live_server
from tests.helpers import audio
from tests.helpers.api import add_user, login, upload_ok, wait_status
from tests.helpers.paths import SPEECH_DIR
from tests.helpers.workers import start_worker

JFK = SPEECH_DIR / "jfk.flac"


def _user(srv: LiveServer, email: str) -> dict[str, str]:
    add_user(srv.runtime, email, plan="pro")
    return login(srv.client, email)


# --- restart -----------------------------------------------------------------------------
def test_restart_with_scratch_wiped_still_serves_the_transcript(
    fresh_db_url: Callable[[str], str], tmp_path: Path
) -> None:
    """Embedded default: stop the service, delete every local scratch file, start again."""
    url = fresh_db_url("sqlite")
    settings = make_settings(tmp_path, url, workers=2)
    srv = start_live_server(settings)
    headers = _user(srv, "r@example.com")
    sid = upload_ok(srv.client, headers, JFK)
    wait_status(srv.client, headers, sid, ("completed",), timeout=90, fail=True)
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
    headers = _user(srv, "s3@example.com")
    sid = upload_ok(srv.client, headers, JFK)
    wait_status(srv.client, headers, sid, ("completed",), timeout=90, fail=True)
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
def test_worker_killed_mid_job_is_retried_and_completes_once(
    fresh_db_url: Callable[[str], str], redis_queue: str, tmp_path: Path
) -> None:
    url = fresh_db_url("postgresql")
    settings = make_settings(
        tmp_path, url, workers=0, queue_url="redis://127.0.0.1:6379/0", queue_name=redis_queue,
        fake_realtime_factor=1.2, job_lease_seconds=3.0, job_heartbeat_seconds=0.5,
        reconcile_interval_seconds=1.0,
    )
    srv = start_live_server(settings)  # API only: no consumers in this process
    log = tmp_path / "worker.log"
    first = start_worker(settings, log)
    second: subprocess.Popen[bytes] | None = None
    try:
        headers = _user(srv, "k@example.com")
        sid = upload_ok(srv.client, headers, JFK)
        st = wait_status(srv.client, headers, sid, ("processing",), timeout=60, fail=True)
        # the fake engine reports nothing inside its one window: the stage says it is at work
        deadline = time.monotonic() + 30
        while st["stage"] != "transcribing" and time.monotonic() < deadline:
            time.sleep(0.1)
            st = wait_status(srv.client, headers, sid, ("processing",), timeout=90, fail=True)
        time.sleep(1.5)  # mid-way through the ~13 s of work
        st = wait_status(srv.client, headers, sid, ("processing",), timeout=5, fail=True)
        assert st["status"] == "processing" and st["stage"] == "transcribing", st
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        second = start_worker(settings, log)
        final = wait_status(srv.client, headers, sid, ("completed", "failed"), timeout=120, fail=True)
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
    sid = upload_ok(api.client, headers, JFK)
    with api.runtime.database.transaction() as db:
        job = db.scalars(select(Job)).one()
        job.status, job.attempt = "running", 2
        job.lease_owner, job.lease_expires_at = "gone-host:1", utcnow() - timedelta(seconds=5)
    assert reconcile_once(api.runtime) == {"requeued": 0, "failed": 1, "resent": 0}
    st = api.client.get(f"/api/v1/sessions/{sid}/status", headers=headers).json()
    assert st["status"] == "failed"
    assert "stopped responding" in st["error"] and st["error_stage"]



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
        headers = _user(srv, "pg@example.com")
        sid = upload_ok(srv.client, headers, long_file)
        wait_status(srv.client, headers, sid, ("processing",), timeout=90, fail=True)
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
        final = wait_status(srv.client, headers, sid, ("completed", "failed"), timeout=120, fail=True)
        assert final["status"] == "completed", final
        with srv.runtime.database.transaction(write=False) as db:
            job = db.scalars(select(Job)).one()
            assert job.status == "completed" and job.attempt == 1
            assert db.scalar(select(func.count()).select_from(UsageEntry)) == 1
    finally:
        srv.stop()
        srv.runtime.close()
