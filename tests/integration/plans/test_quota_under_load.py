"""Quotas hold under concurrent requests, and usage is charged once per successful job
(rules 7 and 10), on SQLite and PostgreSQL, with real HTTP and real consumers."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from tapeworks.audio.probe import probe_audio
from tapeworks.plans.models import UsageEntry
from tapeworks.queue.models import Job
from tapeworks.sessions.models import RecordingSession
from tapeworks.sessions.tasks import TranscribeHandler
from tapeworks.users import service as users
from tests.conftest import Api
from tests.helpers import audio


def _ledger(rt: Any) -> tuple[int, float]:
    with rt.database.transaction(write=False) as db:
        n = int(db.scalar(select(func.count()).select_from(UsageEntry)) or 0)
        total = float(db.scalar(select(func.coalesce(func.sum(UsageEntry.audio_seconds), 0.0))) or 0)
    return n, total


def test_twenty_concurrent_uploads_with_room_for_five(db_url: str, tmp_path: Path,
                                                      live_server: Callable[..., Any]) -> None:
    tone = audio.write_tone(tmp_path / "tone.wav", seconds=2.0)
    seconds = probe_audio(tone, filename="tone.wav").duration_seconds
    quota = int(5.5 * seconds)  # room for exactly five copies
    overrides = {"free": {"monthly_audio_seconds": quota, "max_concurrent_jobs": 5}}
    srv = live_server(db_url, workers=4, fake_realtime_factor=0.0, job_heartbeat_seconds=0.5,
                      plan_overrides=json.dumps(overrides))
    with srv.runtime.database.transaction() as db:
        users.create_user(db, email="racer@example.com", password="password123", plan="free")
    token = httpx.post(f"{srv.url}/api/v1/auth/login",
                       json={"email": "racer@example.com", "password": "password123"}).json()
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    data = tone.read_bytes()
    barrier = threading.Barrier(20)
    results: list[httpx.Response] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def upload(i: int) -> None:
        try:
            with httpx.Client(timeout=120) as client:
                barrier.wait(timeout=30)
                r = client.post(f"{srv.url}/api/v1/sessions", headers=headers,
                                files={"file": (f"take-{i}.wav", data, "audio/wav")},
                                data={"title": f"take {i}"})
            with lock:
                results.append(r)
        except BaseException as exc:  # reported below; a thread must not die silently
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=upload, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=180)
    assert not errors, errors
    codes = sorted(r.status_code for r in results)
    assert codes == [201] * 5 + [403] * 15, [(r.status_code, r.text[:200]) for r in results]
    for r in results:
        if r.status_code == 403:
            err = r.json()["error"]
            assert err["code"] == "quota_exceeded" and "monthly minutes" in err["message"]
    accepted = [r.json()["id"] for r in results if r.status_code == 201]

    deadline = time.monotonic() + 90
    while True:
        with srv.runtime.database.transaction(write=False) as db:
            statuses = list(db.scalars(select(RecordingSession.status)))
        if statuses == ["completed"] * 5 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert statuses == ["completed"] * 5
    n, total = _ledger(srv.runtime)
    assert n == 5
    assert total == pytest.approx(5 * seconds, abs=0.05)
    assert total <= quota
    sources = [o.key for o in srv.runtime.store.list("") if "/source." in o.key]
    assert len(sources) == 5 and all(any(sid in k for sid in accepted) for k in sources)
    # and the month is now full: the next upload is refused up front by validate-action too
    v = httpx.post(f"{srv.url}/api/v1/plan/validate-action", headers=headers,
                   json={"action": "upload_file", "params": {"seconds": seconds}}).json()
    assert v["allowed"] is False and v["limit"]["type"] == "monthly_audio_seconds"


def _flaky_transcribe(monkeypatch: pytest.MonkeyPatch, failures: int) -> list[int]:
    calls: list[int] = []
    original = TranscribeHandler._transcribe

    def flaky(self: TranscribeHandler, ctx: Any, p: Any, local: Path) -> Any:
        calls.append(1)
        if len(calls) <= failures:
            raise RuntimeError(f"engine crashed (call {len(calls)})")
        return original(self, ctx, p, local)

    monkeypatch.setattr(TranscribeHandler, "_transcribe", flaky)
    return calls


def _wait_job(api: Api, sid: str, want: tuple[str, ...], timeout: float = 60.0) -> Job:
    deadline = time.monotonic() + timeout
    while True:
        with api.runtime.database.transaction(write=False) as db:
            job = db.scalar(select(Job).where(Job.owner_kind == "session", Job.owner_id == sid))
        if (job is not None and job.status in want) or time.monotonic() > deadline:
            assert job is not None
            return job
        time.sleep(0.1)


def test_a_job_that_fails_twice_then_succeeds_is_charged_once(
        db_url: str, make_api: Callable[..., Api], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _flaky_transcribe(monkeypatch, failures=2)
    api = make_api(db_url, workers=1, fake_realtime_factor=0.0, job_heartbeat_seconds=0.5)
    alice = api.create_user("alice@example.com", plan="free")
    tone = audio.write_tone(tmp_path / "tone.wav", seconds=1.5)
    with open(tone, "rb") as fh:
        r = api.client.post("/api/v1/sessions", headers=alice, files={"file": ("tone.wav", fh)})
    assert r.status_code == 201, r.text
    sid, seconds = r.json()["id"], r.json()["duration_seconds"]
    job = _wait_job(api, sid, ("completed", "failed"))
    assert job.status == "completed" and job.attempt == 3 and len(calls) == 3
    n, total = _ledger(api.runtime)
    assert n == 1 and total == pytest.approx(seconds, abs=0.05)
    with api.runtime.database.transaction(write=False) as db:
        entry = db.scalar(select(UsageEntry))
        assert entry is not None and entry.job_id == job.id and entry.kind == "transcription"
        assert entry.idempotency_key == f"job:{job.id}:transcription"
    plan = api.client.get("/api/v1/plan", headers=alice).json()["usage"]
    assert plan["monthly_used_seconds"] == pytest.approx(seconds, abs=0.05)
    assert plan["pending_seconds"] == 0
    # deleting the session keeps what it used: the ledger outlives it
    assert api.client.delete(f"/api/v1/sessions/{sid}", headers=alice).status_code == 204
    assert _ledger(api.runtime)[0] == 1
    assert api.client.get("/api/v1/plan", headers=alice).json()["usage"][
        "monthly_used_seconds"] == pytest.approx(seconds, abs=0.05)


def test_a_job_that_fails_every_attempt_is_never_charged(
        db_url: str, make_api: Callable[..., Api], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    _flaky_transcribe(monkeypatch, failures=99)
    api = make_api(db_url, workers=1, fake_realtime_factor=0.0, job_heartbeat_seconds=0.5)
    alice = api.create_user("alice@example.com", plan="free")
    tone = audio.write_tone(tmp_path / "tone.wav", seconds=1.0)
    with open(tone, "rb") as fh:
        sid = api.client.post("/api/v1/sessions", headers=alice,
                              files={"file": ("tone.wav", fh)}).json()["id"]
    job = _wait_job(api, sid, ("completed", "failed"))
    assert job.status == "failed" and job.attempt == 3
    assert _ledger(api.runtime) == (0, 0.0)
    usage = api.client.get("/api/v1/plan", headers=alice).json()["usage"]
    assert usage["monthly_used_seconds"] == 0 and usage["pending_seconds"] == 0
