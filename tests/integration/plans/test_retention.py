"""Retention through the API and the CLI, on SQLite and PostgreSQL: a purged session keeps
its transcript and says its audio is gone; crash after the mark is finished by the next run."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from tapeworks.retention import service as retention
from tapeworks.runtime import Runtime
from tapeworks.sessions.models import RecordingSession
from tests.conftest import Api
from tests.helpers import audio
from tests.helpers.api import upload_ok, wait_status


def _completed_session(api: Api, headers: dict[str, str], tmp_path: Path, name: str = "t") -> str:
    sid = upload_ok(api.client, headers, audio.write_tone(tmp_path / f"{name}.wav", seconds=1.0))
    wait_status(api.client, headers, sid, timeout=60, fail=True)
    return sid


def _row(api: Api, sid: str) -> RecordingSession:
    with api.runtime.database.transaction(write=False) as db:
        s = db.get(RecordingSession, sid)
        assert s is not None
        return s


@pytest.fixture
def worker_api(db_url: str, make_api: Callable[..., Api]) -> Api:
    return make_api(db_url, workers=1, fake_realtime_factor=0.0, job_heartbeat_seconds=0.5)


def test_purge_keeps_the_transcript_and_says_the_audio_is_gone(worker_api: Api, tmp_path: Path) -> None:
    api = worker_api
    alice = api.create_user("alice@example.com", plan="free")  # 30 days of source audio
    sid = _completed_session(api, alice, tmp_path)
    row = _row(api, sid)
    assert row.completed_at is not None and row.source_key
    key = row.source_key

    early = retention.purge(api.runtime, now=row.completed_at + timedelta(days=29))
    assert early.deleted == [] and [i.code for i in early.skipped] == ["not_expired"]

    later = row.completed_at + timedelta(days=30, minutes=1)
    dry = retention.purge(api.runtime, now=later, dry_run=True)
    assert [i.session_id for i in dry.deleted] == [sid] and dry.counts["deleted"] == 1
    assert api.runtime.store.exists(key) and _row(api, sid).source_purged_at is None

    report = retention.purge(api.runtime, now=later)
    assert [i.session_id for i in report.deleted] == [sid] and report.objects_deleted == 1
    assert not api.runtime.store.exists(key)
    s = api.client.get(f"/api/v1/sessions/{sid}", headers=alice).json()
    assert s["status"] == "completed"
    assert s["source"]["available"] is False and s["source"]["purged_at"]
    audio_r = api.client.get(f"/api/v1/sessions/{sid}/audio", headers=alice)
    assert audio_r.status_code == 410
    assert audio_r.json()["error"]["code"] == "gone"
    assert "retention" in audio_r.json()["error"]["message"]
    t = api.client.get(f"/api/v1/sessions/{sid}/transcript", headers=alice)
    assert t.status_code == 200 and t.json()["segments"] is not None
    # a purged source frees its storage; the transcript versions kept still count
    versions = sum(o.size for o in api.runtime.store.list("")
                   if o.key.rsplit("/", 1)[-1].startswith("transcript.v"))
    assert versions > 0
    assert api.client.get("/api/v1/plan", headers=alice).json()["usage"]["storage_bytes_used"] == versions
    assert retention.purge(api.runtime, now=later).counts["deleted"] == 0


def test_failed_and_unfinished_sessions_are_kept_and_retry_refuses_without_audio(
        worker_api: Api, tmp_path: Path) -> None:
    api = worker_api
    alice = api.create_user("alice@example.com", plan="free")
    failed = _completed_session(api, alice, tmp_path, "a")
    queued = _completed_session(api, alice, tmp_path, "b")
    with api.runtime.database.transaction() as db:
        db.execute(update(RecordingSession).where(RecordingSession.id == failed)
                   .values(status="failed"))
        db.execute(update(RecordingSession).where(RecordingSession.id == queued)
                   .values(status="queued"))
    far = _row(api, failed).completed_at + timedelta(days=3650)  # type: ignore[operator]
    report = retention.purge(api.runtime, now=far)
    assert report.deleted == []
    assert sorted(i.code for i in report.skipped) == ["failed", "work_pending"]
    # a failed session whose source is gone (e.g. deleted by an operator) cannot be retried
    with api.runtime.database.transaction() as db:
        db.execute(update(RecordingSession).where(RecordingSession.id == failed)
                   .values(source_purged_at=far))
    r = api.client.post(f"/api/v1/sessions/{failed}/retry", headers=alice)
    assert r.status_code == 410 and "retention" in r.json()["error"]["message"]


def test_a_crash_after_the_mark_is_finished_by_the_next_run(
        worker_api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    api = worker_api
    alice = api.create_user("alice@example.com", plan="free")
    sid = _completed_session(api, alice, tmp_path)
    row = _row(api, sid)
    later = row.completed_at + timedelta(days=31)  # type: ignore[operator]
    store = api.runtime.store

    def unreachable(key: str) -> None:
        raise OSError("store unreachable")

    monkeypatch.setattr(store, "delete", unreachable)
    first = retention.purge(api.runtime, now=later)
    assert first.counts["deleted"] == 1 and first.objects_deleted == 0 and first.errors
    marked = _row(api, sid)
    assert marked.source_purged_at is not None and marked.source_key == row.source_key
    # from the mark on, the API already says the audio is gone
    assert api.client.get(f"/api/v1/sessions/{sid}/audio", headers=alice).status_code == 410
    monkeypatch.undo()
    second = retention.purge(api.runtime, now=later)
    assert second.counts["deleted"] == 0 and second.objects_deleted == 1 and not second.errors
    assert _row(api, sid).source_key is None
    assert not store.exists(str(row.source_key))


def test_purge_cli_and_the_periodic_thread(worker_api: Api, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    api = worker_api
    alice = api.create_user("alice@example.com", plan="free")
    sid = _completed_session(api, alice, tmp_path)
    with api.runtime.database.transaction() as db:  # completed 40 days ago
        s = db.scalar(select(RecordingSession).where(RecordingSession.id == sid))
        assert s is not None and s.completed_at is not None
        s.completed_at = s.completed_at - timedelta(days=40)
    s_ = api.runtime.settings
    env: dict[str, Any] = {"TAPEWORKS_DATA_DIR": str(s_.data_dir),
                           "TAPEWORKS_DATABASE_URL": s_.effective_database_url,
                           "TAPEWORKS_SECRET_KEY": s_.secret_key, "TAPEWORKS_ENVIRONMENT": "test",
                           "TAPEWORKS_LOG_JSON": "false"}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    from tapeworks import cli

    cli._register_domain_commands()
    runner = CliRunner()
    dry = runner.invoke(cli.app, ["purge", "--dry-run", "--verbose"])
    assert dry.exit_code == 0, dry.output
    assert "would delete 1" in dry.output and "nothing changed" in dry.output
    assert _row(api, sid).source_purged_at is None
    plans = runner.invoke(cli.app, ["plans", "list"])
    assert plans.exit_code == 0 and "monthly_audio_seconds" in plans.output

    # the periodic purge listed in the composition root runs next to the reconciler
    worker = Runtime(api.runtime.settings.model_copy(update={"purge_interval_seconds": 0.05}))
    worker.queue.start({"long": 0, "short": 0})
    try:
        deadline = time.monotonic() + 10
        while _row(api, sid).source_key is not None:
            assert time.monotonic() < deadline, "the periodic purge did not run"
            time.sleep(0.05)
    finally:
        worker.close()
    assert _row(api, sid).source_purged_at is not None
    done = runner.invoke(cli.app, ["purge"])
    assert done.exit_code == 0 and "deleted 0" in done.output
