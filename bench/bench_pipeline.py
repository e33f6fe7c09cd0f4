"""Issue 3 benchmarks: pipeline overhead, memory while uploading and transcribing, status polling.

    .venv/bin/python bench/bench_pipeline.py [--model tiny.en] [--minutes 10] [--skip ...]

Prints, side by side in the same run:
1. overhead: time from upload accepted to `completed` for a long recording, divided by the
   bare engine call (`transcribe_file`) on the same file (goal <= 1.10);
2. API memory: peak RSS of a `tapeworks serve` process while a 1 GB upload streams in, above
   idle (goal <= 60 MiB);
3. worker memory: peak RSS of a `tapeworks worker` process transcribing a 3-hour recording
   vs a 3-minute one (goal: within 100 MiB) — with the fake engine, which runs the same
   decode/VAD/windowing/diarization path without the Whisper model;
4. status polling: requests/s and p99 of GET /sessions/{id}/status under 32 connections
   (wrk) next to GET /healthz of the same server in the same run.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import av
import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.helpers.paths import SPEECH_DIR as SPEECH  # noqa: E402  (../shared beside the project)

BIN = Path(sys.executable).with_name("tapeworks")
MiB = 1024 * 1024


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return int(port)


def loop_speech(out: Path, seconds: float) -> Path:
    """A long WAV made by looping jfk.flac (16 kHz mono), written in chunks."""
    with av.open(str(SPEECH / "jfk.flac")) as c:
        resampler = av.AudioResampler(format="s16", layout="mono", rate=16000)
        pcm = b"".join(bytes(f.planes[0])[: f.samples * 2]
                       for frame in c.decode(audio=0) for f in resampler.resample(frame))
    n = int(seconds * 16000) * 2
    with open(out, "wb") as fh:
        fh.write(wav_header(n))
        written = 0
        while written < n:
            chunk = pcm[: n - written]
            fh.write(chunk)
            written += len(chunk)
    return out


def wav_header(data_bytes: int, rate: int = 16000) -> bytes:
    return (b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVEfmt " +
            struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16) + b"data" +
            struct.pack("<I", data_bytes))


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    text = Path(f"/proc/{pid}/status").read_text()
    m = re.search(rf"^{field}:\s+(\d+) kB", text, re.M)
    return int(m.group(1)) if m else 0


class Service:
    """A real `tapeworks serve` (or API + `tapeworks worker`) in subprocesses."""

    def __init__(self, data: Path, *, workers: int, engine: str, model: str,
                 database_url: str = "") -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "TAPEWORKS_DATA_DIR": str(data), "TAPEWORKS_WORKERS": str(workers),
                    "TAPEWORKS_SPEECH_ENGINE": engine, "TAPEWORKS_SPEECH_MODEL": model,
                    "TAPEWORKS_ADMIN_EMAIL": "bench@example.com",
                    "TAPEWORKS_ADMIN_PASSWORD": "bench-password", "TAPEWORKS_LOG_LEVEL": "WARNING",
                    "TAPEWORKS_MAX_UPLOAD_BYTES": str(3 * 1024**3)}
        if database_url:
            self.env["TAPEWORKS_DATABASE_URL"] = database_url
        self.proc = subprocess.Popen([str(BIN), "serve", "--port", str(self.port)], env=self.env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("service did not start")
            time.sleep(0.2)
        r = httpx.post(f"{self.url}/api/v1/auth/login",
                       json={"email": "bench@example.com", "password": "bench-password"})
        self.headers = {"Authorization": f"Bearer {r.json()['access_token']}"}

    def upload(self, path: Path) -> str:
        with open(path, "rb") as fh:
            r = httpx.post(f"{self.url}/api/v1/sessions", headers=self.headers,
                           files={"file": (path.name, fh)}, timeout=3600)
        r.raise_for_status()
        return str(r.json()["id"])

    def wait(self, sid: str, timeout: float = 7200) -> dict[str, object]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            st = httpx.get(f"{self.url}/api/v1/sessions/{sid}/status", headers=self.headers).json()
            if st["status"] in ("completed", "failed"):
                return dict(st)
            time.sleep(0.1)
        raise SystemExit(f"session {sid} did not finish")

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def bench_overhead(tmp: Path, minutes: float, model: str) -> None:
    from tapeworks.speech.pipeline import TranscribeOptions, transcribe_file

    src = loop_speech(tmp / "long.wav", minutes * 60)
    options = TranscribeOptions(engine="whisper", model=model, model_dir=str(tmp / "models"))
    transcribe_file(SPEECH / "jfk.flac", options)  # warm the model cache (download/join once)
    t0 = time.perf_counter()
    transcribe_file(src, options)
    bare = time.perf_counter() - t0

    svc = Service(tmp / "svc-overhead", workers=1, engine="whisper", model=model)
    try:
        # warm the worker's model cache with a short file so both runs start warm
        svc.wait(svc.upload(SPEECH / "jfk.flac"))
        with open(src, "rb") as fh:
            r = httpx.post(f"{svc.url}/api/v1/sessions", headers=svc.headers,
                           files={"file": (src.name, fh)}, timeout=3600)
        accepted = time.perf_counter()
        st = svc.wait(r.json()["id"])
        ours = time.perf_counter() - accepted
    finally:
        svc.stop()
    print(f"\n## 1. pipeline overhead ({minutes:.0f}-minute recording, Whisper {model}, int8, 2 threads)")
    print(f"bare transcribe_file          {bare:8.1f} s   ({bare / (minutes * 60):.3f} x real time)")
    print(f"upload accepted -> completed  {ours:8.1f} s   status={st['status']}")
    print(f"ratio ours / bare             {ours / bare:8.3f}    (goal <= 1.10)")


def bench_upload_memory(tmp: Path, gigabytes: float) -> None:
    svc = Service(tmp / "svc-upload", workers=0, engine="fake", model="fake")
    try:
        time.sleep(1.0)
        cold = rss_kib(svc.proc.pid)
        svc.upload(SPEECH / "jfk.flac")  # first upload loads the decoders: not growth with size
        time.sleep(0.5)
        idle = rss_kib(svc.proc.pid)
        peak = [idle]
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                peak[0] = max(peak[0], rss_kib(svc.proc.pid))
                time.sleep(0.02)

        threading.Thread(target=sample, daemon=True).start()
        data_bytes = int(gigabytes * 1024**3) // 2 * 2
        boundary = "benchboundary"
        noise = (np.random.default_rng(1).standard_normal(65536) * 3000).astype("<i2").tobytes()

        def body() -> Iterator[bytes]:
            yield (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
                   f"filename=\"big.wav\"\r\nContent-Type: audio/wav\r\n\r\n").encode()
            yield wav_header(data_bytes)
            sent = 0
            while sent < data_bytes:
                chunk = noise[: data_bytes - sent]
                sent += len(chunk)
                yield chunk
            yield f"\r\n--{boundary}--\r\n".encode()

        t0 = time.perf_counter()
        r = httpx.post(f"{svc.url}/api/v1/sessions", headers={
            **svc.headers, "Content-Type": f"multipart/form-data; boundary={boundary}"},
            content=body(), timeout=3600)
        took = time.perf_counter() - t0
        stop.set()
        hwm = rss_kib(svc.proc.pid, "VmHWM")
    finally:
        svc.stop()
    print(f"\n## 2. API memory while a {gigabytes:.1f} GB upload streams in (status {r.status_code}, {took:.0f} s incl. probe + store)")
    print(f"before any upload {cold / 1024:7.1f} MiB; after one small upload (idle) {idle / 1024:7.1f} MiB")
    print(f"idle RSS {idle / 1024:7.1f} MiB   peak RSS {max(peak[0], hwm) / 1024:7.1f} MiB   "
          f"above idle {(max(peak[0], hwm) - idle) / 1024:6.1f} MiB   (goal <= 60 MiB)")


def worker_peak(tmp: Path, name: str, seconds: float) -> tuple[float, float]:
    src = loop_speech(tmp / f"{name}.wav", seconds)
    data = tmp / f"svc-{name}"
    svc = Service(data, workers=0, engine="fake", model="fake")
    worker = subprocess.Popen([str(BIN), "worker", "--threads", "1"], env=svc.env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        t0 = time.perf_counter()
        st = svc.wait(svc.upload(src))
        took = time.perf_counter() - t0
        assert st["status"] == "completed", st
        return rss_kib(worker.pid, "VmHWM") / 1024, took
    finally:
        worker.send_signal(signal.SIGINT)
        try:
            worker.wait(20)
        except subprocess.TimeoutExpired:
            worker.kill()
        svc.stop()
        src.unlink()


def bench_worker_memory(tmp: Path) -> None:
    short, t_short = worker_peak(tmp, "3min", 180)
    long, t_long = worker_peak(tmp, "3h", 3 * 3600)
    print("\n## 3. worker peak RSS (fake engine: decode, VAD, windows, diarization; no Whisper model)")
    print(f"3-minute recording  {short:7.1f} MiB  ({t_short:.0f} s)")
    print(f"3-hour recording    {long:7.1f} MiB  ({t_long:.0f} s)")
    print(f"difference          {long - short:7.1f} MiB   (goal <= 100 MiB)")


def wrk(url: str, headers: dict[str, str], seconds: int = 10) -> tuple[float, float]:
    args = ["wrk", "-t2", "-c32", f"-d{seconds}s", "--latency"]
    for k, v in headers.items():
        args += ["-H", f"{k}: {v}"]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    m = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    assert m is not None
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
    return rps, float(m.group(1)) * scale


def bench_polling(tmp: Path, database_url: str = "") -> None:
    if shutil.which("wrk") is None:
        print("\n## 4. status polling: skipped (install wrk: apt-get install wrk)")
        return
    svc = Service(tmp / "svc-poll", workers=1, engine="fake", model="fake",
                  database_url=database_url)
    try:
        sid = svc.upload(SPEECH / "jfk.flac")
        svc.wait(sid)
        status = wrk(f"{svc.url}/api/v1/sessions/{sid}/status", svc.headers)
        health = wrk(f"{svc.url}/healthz", {})
    finally:
        svc.stop()
    where = "PostgreSQL" if database_url else "SQLite"
    print(f"\n## 4. polling under 32 connections (wrk, 10 s each, one uvicorn process, {where})")
    print(f"GET /sessions/{{id}}/status  {status[0]:8.0f} req/s   p99 {status[1]:7.1f} ms")
    print(f"GET /healthz (trivial)      {health[0]:8.0f} req/s   p99 {health[1]:7.1f} ms")
    print(f"status / trivial throughput {status[0] / health[0]:8.2f}")


def fresh_database(url: str) -> str:
    """Empty a PostgreSQL database (its public schema) and migrate it, as an operator would."""
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")
    subprocess.run([str(BIN), "db", "upgrade"], check=True, stdout=subprocess.DEVNULL,
                   env={**os.environ, "TAPEWORKS_DATABASE_URL": url})
    return url


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="tiny.en")
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--upload-gb", type=float, default=1.0)
    ap.add_argument("--database", default="",
                    help="database URL for the polling figures (default: the embedded SQLite); "
                         "a PostgreSQL database is emptied and migrated first")
    ap.add_argument("--skip", nargs="*", default=[], choices=["overhead", "upload", "worker", "polling"])
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="tw-bench-"))
    try:
        if "overhead" not in args.skip:
            bench_overhead(tmp, args.minutes, args.model)
        if "upload" not in args.skip:
            bench_upload_memory(tmp, args.upload_gb)
        if "worker" not in args.skip:
            bench_worker_memory(tmp)
        if "polling" not in args.skip:
            bench_polling(tmp, fresh_database(args.database) if args.database else "")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
