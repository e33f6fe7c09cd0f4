"""Workers on other hosts: three machines made of network namespaces.

- host "db": its own PostgreSQL (initialised and run as the `postgres` user in a directory of
  this test), its own Redis and an S3 API server (moto), all listening on its LAN address;
- host "api": `tapeworks serve` (no workers in it);
- hosts "w1", "w2": `tapeworks worker`.

Uploads go through the API host; jobs run on the worker hosts. One worker host loses power
mid-job (every process killed): the job completes on the other. One worker host loses its
link mid-job: its lease expires, the job completes elsewhere, the user edits the transcript,
and when the link comes back the stale worker's late work is refused by the lease check and
overwrites nothing. The namespaces go away even when the test fails.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import psycopg
import pytest

from tests.helpers.netns import Host, Lan, can_build_namespaces, wait_until
from tests.helpers.paths import JFK
from tests.helpers.workers import TAPEWORKS

LEASE_SECONDS = 4.0
REALTIME = 1.2  # the fake engine takes 1.2 s per second of audio: 13 s for JFK


def _binary(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        import glob  # Debian keeps the server binaries out of PATH

        candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
        if not candidates:
            pytest.fail(f"PostgreSQL's `{name}` is not installed")
        found = candidates[-1]
    return found


class Cluster:
    def __init__(self, lan: Lan, root: Path) -> None:
        self.lan, self.root = lan, root
        self.db, self.api = lan.add_host("db"), lan.add_host("api")
        self.w1, self.w2 = lan.add_host("w1"), lan.add_host("w2")
        self.bucket = "tw-multihost"
        self.secret = "multihost-" + os.urandom(8).hex()
        self.logs: dict[str, Path] = {}

    # the database host -------------------------------------------------------------------
    def start_services(self) -> None:
        pgdata = self.root / "pg"
        pgdata.mkdir()
        shutil.chown(pgdata, "postgres", "postgres")
        r = self.db.run([_binary("initdb"), "-D", str(pgdata), "-A", "trust", "-U", "postgres"],
                        user="postgres")
        assert r.returncode == 0, r.stdout + r.stderr
        with (pgdata / "pg_hba.conf").open("a") as fh:
            fh.write(f"host all all {self.lan.prefix}.0/24 trust\n")
        self.db.popen([_binary("postgres"), "-D", str(pgdata), "-h", self.db.address,
                       "-p", "5432", "-k", str(pgdata), "-c", "fsync=off"],
                      user="postgres", log=self._log("postgres"))
        self.db.popen(["redis-server", "--bind", self.db.address, "--port", "6379",
                       "--save", "", "--appendonly", "no", "--protected-mode", "no"],
                      log=self._log("redis"))
        self.db.popen([sys.executable, "-m", "moto.server", "-H", self.db.address, "-p", "5000"],
                      log=self._log("moto"), env={**os.environ, **self.aws_env()})
        wait_until("PostgreSQL on the db host", lambda: psycopg.connect(
            self.database_url, connect_timeout=2).close() or True, 60)
        wait_until("the S3 server on the db host", self._make_bucket, 60)

    def aws_env(self) -> dict[str, str]:
        return {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": "us-east-1"}

    def _make_bucket(self) -> bool:
        s3 = boto3.client("s3", endpoint_url=f"http://{self.db.address}:5000", **{
            "aws_access_key_id": "testing", "aws_secret_access_key": "testing",
            "region_name": "us-east-1"})
        s3.create_bucket(Bucket=self.bucket)
        return True

    @property
    def database_url(self) -> str:
        return f"postgresql://postgres@{self.db.address}:5432/postgres"

    # tapeworks hosts ------------------------------------------------------------------------
    def env(self, host: Host) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TAPEWORKS_")}
        data = self.root / f"data-{host.name}"
        data.mkdir(exist_ok=True)
        env.update(self.aws_env())
        env.update({
            "TAPEWORKS_DATA_DIR": str(data),  # one data dir per host: nothing shared on disk
            "TAPEWORKS_DATABASE_URL": self.database_url,
            "TAPEWORKS_QUEUE_URL": f"redis://{self.db.address}:6379/0",
            "TAPEWORKS_STORAGE_URL": f"s3://{self.bucket}/tw",
            "TAPEWORKS_S3_ENDPOINT_URL": f"http://{self.db.address}:5000",
            "TAPEWORKS_SECRET_KEY": self.secret,
            "TAPEWORKS_ENVIRONMENT": "test",
            "TAPEWORKS_WORKERS": "0",
            "TAPEWORKS_SPEECH_ENGINE": "fake",
            "TAPEWORKS_FAKE_REALTIME_FACTOR": str(REALTIME),
            "TAPEWORKS_JOB_LEASE_SECONDS": str(LEASE_SECONDS),
            "TAPEWORKS_JOB_HEARTBEAT_SECONDS": "0.5",
            "TAPEWORKS_RECONCILE_INTERVAL_SECONDS": "1.0",
            "TAPEWORKS_SHUTDOWN_GRACE_SECONDS": "1",
            "TAPEWORKS_LOG_JSON": "true",
        })
        return env

    def _log(self, name: str) -> Path:
        self.logs[name] = self.root / f"{name}.log"
        return self.logs[name]

    def tapeworks(self, host: Host, *args: str) -> Any:
        r = host.run([TAPEWORKS, *args], env=self.env(host))
        assert r.returncode == 0, (args, r.stdout[-2000:], r.stderr[-2000:])
        return r

    def start_api(self) -> httpx.Client:
        self.tapeworks(self.api, "db", "upgrade")
        self.api.popen([TAPEWORKS, "serve", "--host", self.api.address, "--port", "8000"],
                       env=self.env(self.api), log=self._log("api"))
        client = httpx.Client(base_url=f"http://{self.api.address}:8000", timeout=30)
        wait_until("the API host", lambda: client.get("/healthz").status_code == 200, 90)
        return client

    def start_worker(self, host: Host) -> None:
        host.popen([TAPEWORKS, "worker", "--threads", "1"], env=self.env(host),
                   log=self._log(host.name))

    def tail(self) -> str:
        return "\n".join(f"--- {n}\n{p.read_text(errors='replace')[-2500:]}"
                         for n, p in self.logs.items() if p.exists())

    # the database, read from the test's own namespace -------------------------------------
    def job_of(self, sid: str) -> dict[str, Any]:
        with psycopg.connect(self.database_url, connect_timeout=5) as conn:
            row = conn.execute(
                "SELECT status, attempt, lease_owner, id FROM jobs WHERE owner_id = %s", (sid,)
            ).fetchone()
            assert row is not None
            return {"status": row[0], "attempt": row[1], "lease_owner": row[2], "id": row[3]}

    def count(self, sql: str, *args: Any) -> int:
        with psycopg.connect(self.database_url, connect_timeout=5) as conn:
            row = conn.execute(sql, args).fetchone()
            return int(row[0]) if row else 0

    def host_running(self, sid: str) -> Host:
        """The worker host whose process holds the job's lease."""
        def running() -> Host | None:
            job = self.job_of(sid)
            if job["status"] != "running" or not job["lease_owner"]:
                return None
            pid = int(job["lease_owner"].split(":")[1])
            for host in (self.w1, self.w2):
                if pid in host.pids():
                    return host
            return None
        found = wait_until(f"job of {sid} running on a worker host", running, 60)
        assert isinstance(found, Host)
        return found


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    why = can_build_namespaces()
    if why:
        pytest.fail(why)
    # not under pytest's tmp dir: that is private to root, and PostgreSQL runs as `postgres`
    root = Path(tempfile.mkdtemp(prefix="tw-multihost-"))
    os.chmod(root, 0o755)
    lan = Lan()
    c = Cluster(lan, root)
    try:
        c.start_services()
        yield c
    finally:
        lan.close()
        shutil.rmtree(root, ignore_errors=True)


def _login(client: httpx.Client, cluster: Cluster) -> dict[str, str]:
    cluster.tapeworks(cluster.api, "users", "create", "--email", "far@example.com",
                      "--password", "password123", "--plan", "pro")
    r = client.post("/api/v1/auth/login", json={"email": "far@example.com",
                                                 "password": "password123"})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def _upload(client: httpx.Client, headers: dict[str, str], title: str) -> str:
    with JFK.open("rb") as fh:
        r = client.post("/api/v1/sessions", headers=headers, data={"title": title},
                        files={"file": ("jfk.flac", fh, "audio/flac")})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _wait_done(client: httpx.Client, headers: dict[str, str], sid: str, c: Cluster,
               timeout: float = 120) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        st = client.get(f"/api/v1/sessions/{sid}/status", headers=headers).json()
        return st if st["status"] in ("completed", "failed") else None
    try:
        st = wait_until(f"session {sid} to finish", done, timeout, interval=0.5)
    except TimeoutError as exc:
        raise AssertionError(f"{exc}\n{c.tail()}") from None
    assert isinstance(st, dict)
    return st


def _wait_transcribing(c: Cluster, client: httpx.Client, headers: dict[str, str], sid: str,
                       then: float = 3.0) -> None:
    """Until the engine is at work, then `then` seconds more (the fake engine reports no
    progress inside one window, so the stage is the signal that the job is mid-way)."""
    def transcribing() -> bool:
        st = client.get(f"/api/v1/sessions/{sid}/status", headers=headers).json()
        assert st["status"] in ("queued", "processing"), (st, c.tail())
        return bool(st["stage"] == "transcribing")
    wait_until("the engine at work", transcribing, 60, interval=0.1)
    time.sleep(then)
    st = client.get(f"/api/v1/sessions/{sid}/status", headers=headers).json()
    assert st["status"] == "processing", (st, c.tail())


def test_jobs_survive_a_worker_host_losing_power_and_one_losing_its_link(cluster: Cluster) -> None:
    c = cluster
    client = c.start_api()
    headers = _login(client, c)
    c.start_worker(c.w1)
    c.start_worker(c.w2)

    # 1. a worker host loses power mid-job: the other host completes it
    sid = _upload(client, headers, "power cut")
    victim = c.host_running(sid)
    _wait_transcribing(c, client, headers, sid)
    victim.kill_all()
    st = _wait_done(client, headers, sid, c)
    assert st["status"] == "completed", (st, c.tail())
    job = c.job_of(sid)
    assert job["attempt"] == 2 and job["status"] == "completed"
    other = c.w2 if victim is c.w1 else c.w1
    assert "job.completed" in c.logs[other.name].read_text()
    assert c.count("SELECT count(*) FROM usage_entries WHERE session_id = %s", sid) == 1
    c.start_worker(victim)  # the machine comes back

    # 2. a worker host loses its link mid-job: the lease expires, another host completes
    #    the job; the user edits the transcript; the link comes back and the stale worker's
    #    late work is refused by the lease check and overwrites nothing
    sid = _upload(client, headers, "link cut")
    stale = c.host_running(sid)
    _wait_transcribing(c, client, headers, sid)
    stale.link(False)
    try:
        st = _wait_done(client, headers, sid, c, timeout=150)
        assert st["status"] == "completed", (st, c.tail())
        job = c.job_of(sid)
        assert job["attempt"] == 2
        tr = client.get(f"/api/v1/sessions/{sid}/transcript", headers=headers).json()
        seg = tr["segments"][0]
        r = client.post(f"/api/v1/sessions/{sid}/transcript/edits", headers=headers,
                        json={"ops": [{"op": "edit_text", "segment_id": seg["id"],
                                       "text": "Edited after the failover."}]})
        assert r.status_code == 200, r.text
    finally:
        stale.link(True)
    stale_log = c.logs[stale.name]
    wait_until("the stale worker to give the job up",
               lambda: "job.abandoned" in stale_log.read_text(), 120, interval=0.5)
    time.sleep(2)  # anything it would still write, it writes now
    tr = client.get(f"/api/v1/sessions/{sid}/transcript", headers=headers).json()
    assert tr["segments"][0]["text"] == "Edited after the failover.", c.tail()
    st = client.get(f"/api/v1/sessions/{sid}/status", headers=headers).json()
    assert st["status"] == "completed" and st["attempt"] == 2
    assert c.count("SELECT count(*) FROM usage_entries WHERE session_id = %s", sid) == 1
    assert c.count("SELECT count(*) FROM jobs WHERE status = 'running'") == 0
    events = [json.loads(line) for line in stale_log.read_text().splitlines()
              if line.startswith("{")]
    assert not [e for e in events if e.get("event") == "job.completed"
                and e.get("job_id") == job["id"]]
