"""Issue 18 benchmarks: two API processes and two workers on PostgreSQL + Redis.

    .venv/bin/python bench/bench_scale.py [--minutes 10] [--model base] [--seconds 15] [--skip overhead]

Prints, in the same run:
1. load: 200 concurrent status pollers (two wrk processes, 100 connections each, one per
   API process) while 10 uploads go in at once (5 per API process): requests per second,
   p99, and the 5xx count read from both processes' /metrics (goal: 0);
2. the polling ratio to GET /healthz under the same 200 connections (goal >= 0.5);
3. upload accepted -> completed over the bare engine call (`transcribe_file`) on a long
   recording with Whisper, two workers on PostgreSQL + Redis (goal <= 1.05).

Needs PostgreSQL on 127.0.0.1:5432 (a database is created and dropped), Redis on
127.0.0.1:6379 and wrk (`apt-get install wrk`).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx
import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from tests.helpers.paths import SPEECH_DIR as SPEECH  # noqa: E402

from bench_pipeline import free_port, loop_speech  # noqa: E402

BIN = Path(sys.executable).with_name("tapeworks")
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
METRICS_TOKEN = "bench-metrics-" + uuid.uuid4().hex[:8]


class Cluster:
    """`tapeworks serve` x2 (no workers inside) and `tapeworks worker` x2 on one PostgreSQL
    database, one Redis queue and one local store (all processes on this host)."""

    def __init__(self, tmp: Path, *, engine: str, model: str, fake_factor: float = 0.0) -> None:
        tmp.mkdir(parents=True, exist_ok=True)
        self.db = f"tw_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.db}"')
        self.env = {**os.environ,
                    "TAPEWORKS_DATA_DIR": str(tmp / "data"),
                    "TAPEWORKS_DATABASE_URL": f"postgresql://postgres@127.0.0.1:5432/{self.db}",
                    "TAPEWORKS_QUEUE_URL": "redis://127.0.0.1:6379/0",
                    "TAPEWORKS_QUEUE_NAME": self.db,
                    "TAPEWORKS_WORKERS": "0",
                    "TAPEWORKS_SPEECH_ENGINE": engine, "TAPEWORKS_SPEECH_MODEL": model,
                    "TAPEWORKS_FAKE_REALTIME_FACTOR": str(fake_factor),
                    "TAPEWORKS_LOG_LEVEL": "WARNING", "TAPEWORKS_METRICS_TOKEN": METRICS_TOKEN,
                    "TAPEWORKS_SECRET_KEY": "bench-" + uuid.uuid4().hex,
                    }
        subprocess.run([str(BIN), "db", "upgrade"], env=self.env, check=True,
                       stdout=subprocess.DEVNULL)
        subprocess.run([str(BIN), "users", "create", "--email", "bench@example.com",
                        "--password", "bench-password", "--plan", "unlimited"],
                       env=self.env, check=True, stdout=subprocess.DEVNULL)
        self.procs: list[subprocess.Popen[bytes]] = []
        self.urls = []
        for _ in range(2):
            port = free_port()
            self.procs.append(subprocess.Popen(
                [str(BIN), "serve", "--port", str(port)], env=self.env,
                stdout=subprocess.DEVNULL, stderr=(tmp / f"api-{port}.log").open("wb")))
            self.urls.append(f"http://127.0.0.1:{port}")
        for _ in range(2):
            self.procs.append(subprocess.Popen([str(BIN), "worker", "--threads", "1"], env=self.env,
                                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        for url in self.urls:
            deadline = time.monotonic() + 90
            while True:
                try:
                    if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    logs = "".join(p.read_text()[-1500:] for p in tmp.glob("api-*.log"))
                    raise SystemExit(f"the API did not start:\n{logs}")
                time.sleep(0.2)
        r = httpx.post(f"{self.urls[0]}/api/v1/auth/login",
                       json={"email": "bench@example.com", "password": "bench-password"})
        self.headers = {"Authorization": f"Bearer {r.json()['access_token']}"}

    def upload(self, path: Path, api: int = 0) -> str:
        with open(path, "rb") as fh:
            r = httpx.post(f"{self.urls[api]}/api/v1/sessions", headers=self.headers,
                           files={"file": (path.name, fh)}, timeout=3600)
        r.raise_for_status()
        return str(r.json()["id"])

    def wait(self, sid: str, timeout: float = 7200) -> dict[str, object]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            st = httpx.get(f"{self.urls[0]}/api/v1/sessions/{sid}/status",
                           headers=self.headers).json()
            if st["status"] in ("completed", "failed"):
                return dict(st)
            time.sleep(0.05)
        raise SystemExit(f"session {sid} did not finish")

    def server_errors(self) -> int:
        total = 0
        for url in self.urls:
            text = httpx.get(f"{url}/metrics",
                             headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).text
            for m in re.finditer(r'tapeworks_http_requests_total\{[^}]*status="5\d\d"[^}]*\} ([\d.e+]+)',
                                 text):
                total += int(float(m.group(1)))
        return total

    def stop(self) -> None:
        for p in self.procs:
            p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(40)
            except subprocess.TimeoutExpired:
                p.kill()
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.db}" WITH (FORCE)')


def wrk_many(urls: list[str], headers: dict[str, str], seconds: int,
             connections: int) -> tuple[float, float, int]:
    """wrk against each url at once (connections each): summed req/s, worst p99 (ms),
    non-2xx/3xx responses."""
    procs = []
    for url in urls:
        args = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
        for k, v in headers.items():
            args += ["-H", f"{k}: {v}"]
        procs.append(subprocess.Popen([*args, url], stdout=subprocess.PIPE, text=True))
    rps, p99, bad = 0.0, 0.0, 0
    for p in procs:
        out, _ = p.communicate()
        rps += float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
        m = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
        if m:
            p99 = max(p99, float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)])
        n = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
        bad += int(n.group(1)) if n else 0
    return rps, p99, bad


def bench_load(tmp: Path, seconds: int) -> None:
    c = Cluster(tmp / "load", engine="fake", model="fake", fake_factor=0.2)
    try:
        sid = c.upload(SPEECH / "jfk.flac")
        c.wait(sid)
        upload_file = loop_speech(tmp / "two-minutes.wav", 120)
        done: list[float] = []
        errors: list[str] = []

        def uploads() -> None:
            def one(i: int) -> None:
                t0 = time.perf_counter()
                try:
                    c.wait(c.upload(upload_file, api=i % 2), timeout=600)
                    done.append(time.perf_counter() - t0)
                except Exception as exc:  # counted, shown below
                    errors.append(repr(exc)[:200])
            threads = [threading.Thread(target=one, args=(i,)) for i in range(10)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()

        loader = threading.Thread(target=uploads)
        loader.start()
        status = wrk_many([f"{u}/api/v1/sessions/{sid}/status" for u in c.urls], c.headers,
                          seconds, 100)
        # the reference under the same upload load (the uploads take far longer than both)
        health = wrk_many([f"{u}/healthz" for u in c.urls], {}, seconds, 100)
        loader.join()
        server_errors = c.server_errors()
    finally:
        c.stop()
    print(f"\n## 1. 200 pollers + 10 uploads (2 API processes, 2 workers, PostgreSQL + Redis, {seconds} s)")
    print(f"GET /sessions/{{id}}/status   {status[0]:8.0f} req/s   p99 {status[1]:7.1f} ms   "
          f"non-2xx {status[2]}")
    print(f"uploads completed            {len(done):8d} of 10   failed {len(errors)}"
          + (f"   slowest {max(done):.1f} s" if done else ""))
    print(f"5xx responses (both /metrics) {server_errors:7d}    (goal 0)")
    print("\n## 2. polling ratio (same 200 connections, same processes, uploads still running)")
    print(f"GET /healthz (trivial)       {health[0]:8.0f} req/s   p99 {health[1]:7.1f} ms")
    print(f"status / healthz             {status[0] / health[0]:8.2f}    (goal >= 0.5)")
    for e in errors[:3]:
        print("  upload error:", e)


def bench_overhead(tmp: Path, minutes: float, model: str) -> None:
    from tapeworks.speech.pipeline import TranscribeOptions, transcribe_file

    src = loop_speech(tmp / "long.wav", minutes * 60)
    models = tmp / "data" / "models"
    options = TranscribeOptions(engine="whisper", model=model, model_dir=str(models))
    transcribe_file(SPEECH / "jfk.flac", options)  # warm (join the offline weights once)
    t0 = time.perf_counter()
    transcribe_file(src, options)
    bare = time.perf_counter() - t0
    c = Cluster(tmp, engine="whisper", model=model)
    try:
        for i in range(2):  # warm both workers' model caches
            c.wait(c.upload(SPEECH / "jfk.flac", api=i))
        with open(src, "rb") as fh:
            r = httpx.post(f"{c.urls[0]}/api/v1/sessions", headers=c.headers,
                           files={"file": (src.name, fh)}, timeout=3600)
        accepted = time.perf_counter()
        st = c.wait(r.json()["id"])
        ours = time.perf_counter() - accepted
    finally:
        c.stop()
    print(f"\n## 3. upload -> completed over the bare engine ({minutes:g}-minute recording, Whisper "
          f"{model}, 2 workers, PostgreSQL + Redis)")
    print(f"bare transcribe_file          {bare:8.1f} s   ({bare / (minutes * 60):.3f} x real time)")
    print(f"upload accepted -> completed  {ours:8.1f} s   status={st['status']}")
    print(f"ratio ours / bare             {ours / bare:8.3f}    (goal <= 1.05)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="base")
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--seconds", type=int, default=15)
    ap.add_argument("--skip", nargs="*", default=[], choices=["load", "overhead"])
    args = ap.parse_args()
    if shutil.which("wrk") is None and "load" not in args.skip:
        raise SystemExit("wrk is needed for the load figures: apt-get install wrk")
    tmp = Path(tempfile.mkdtemp(prefix="tw-bench-scale-"))
    try:
        if "load" not in args.skip:
            bench_load(tmp, args.seconds)
        if "overhead" not in args.skip:
            bench_overhead(tmp, args.minutes, args.model)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
