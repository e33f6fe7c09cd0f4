"""Episodes through the API: cut, re-time, level, assemble, render; on SQLite and PostgreSQL."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pyloudnorm
import pytest

from tests.conftest import Api, make_settings, start_live_server
from tests.helpers import audio
from tests.helpers.api import add_user, login, upload, wait_status
from tests.helpers.audio import decode_bytes as decode
from tests.helpers.audio import write_spaced_bursts as write_bursts
from tests.helpers.workers import start_worker


def wait_episode(client: Any, headers: dict[str, str], eid: str, timeout: float = 120) -> dict[str, Any]:
    return wait_status(client, headers, eid, ("completed", "failed"), what="episodes",
                       timeout=timeout)


@pytest.fixture
def ep_api(db_url: str, make_api: Callable[..., Api]) -> Api:
    return make_api(db_url, workers=2)


@pytest.fixture
def pro(ep_api: Api) -> dict[str, str]:
    return ep_api.create_user("pod@example.com", plan="pro")


@pytest.fixture
def transcribed(ep_api: Api, pro: dict[str, str], tmp_path: Path) -> str:
    src = write_bursts(tmp_path / "bursts.wav")
    r = upload(ep_api.client, pro, src, title="Pilot", speakers="1")
    assert r.status_code == 201, r.text
    assert wait_status(ep_api.client, pro, r.json()["id"])["status"] == "completed"
    return str(r.json()["id"])


def test_default_episode_shortens_pauses_levels_and_retimes(ep_api: Api, pro: dict[str, str],
                                                            transcribed: str) -> None:
    r = ep_api.client.post(f"/api/v1/sessions/{transcribed}/episodes", headers=pro)
    assert r.status_code == 201, r.text
    eid = r.json()["id"]
    pending = ep_api.client.get(f"/api/v1/episodes/{eid}/audio", headers=pro)
    assert pending.status_code in (200, 409)  # never a partial file: 409 until completed
    st = wait_episode(ep_api.client, pro, eid)
    assert st["status"] == "completed", st
    ep = ep_api.client.get(f"/api/v1/episodes/{eid}", headers=pro).json()
    # 5 gaps of 2.5 s -> 0.5 s (the last one is trailing silence, also a pause)
    assert ep["cuts"]["pause"]["count"] >= 4
    assert ep["duration_seconds"] < 17.0 - 4 * 1.9
    loud = ep["loudness"]
    assert abs(loud["output_lufs"] - loud["target_lufs"]) <= 0.5 and loud["true_peak_dbtp"] <= -1.0

    audio_bytes = ep_api.client.get(f"/api/v1/episodes/{eid}/audio", headers=pro)
    assert audio_bytes.status_code == 200 and audio_bytes.headers["content-type"] == "audio/mpeg"
    samples, rate = decode(audio_bytes.content)
    measured = pyloudnorm.Meter(rate).integrated_loudness(samples)
    assert abs(measured - loud["target_lufs"]) <= 0.7
    part = ep_api.client.get(f"/api/v1/episodes/{eid}/audio", headers={**pro, "Range": "bytes=0-9"})
    assert part.status_code == 206 and len(part.content) == 10

    edits = ep_api.client.get(f"/api/v1/episodes/{eid}/edit-list", headers=pro).json()
    assert edits["episode_duration"] < edits["source_duration"]
    assert all(c["kind"] == "pause" and c["seconds"] > 1.0 for c in edits["cuts"])
    # the re-timed transcript: words in episode time, within the episode's length, in order
    t = ep_api.client.get(f"/api/v1/episodes/{eid}/transcript", headers=pro).json()
    starts = [w["start"] for s in t["segments"] for w in s["words"]]
    assert starts == sorted(starts) and starts[-1] < ep["duration_seconds"]
    src = ep_api.client.get(f"/api/v1/sessions/{transcribed}/transcript", headers=pro).json()
    assert len(starts) == sum(len(s["words"]) for s in src["segments"])  # pauses cut, no word lost
    srt = ep_api.client.get(f"/api/v1/episodes/{eid}/transcript?format=srt", headers=pro)
    assert srt.status_code == 200 and "-->" in srt.text


def test_template_with_intro_and_music(ep_api: Api, pro: dict[str, str], transcribed: str,
                                       tmp_path: Path) -> None:
    intro = audio.write_tone(tmp_path / "intro.wav", seconds=2.0)
    music = audio.write_tone(tmp_path / "music.mp3", seconds=4.0, fmt="mp3")
    ids = {}
    for kind, path in (("intro", intro), ("music", music)):
        with open(path, "rb") as fh:
            r = ep_api.client.post("/api/v1/assets", headers=pro, files={"file": (path.name, fh)},
                                   data={"kind": kind, "name": f"my {kind}"})
        assert r.status_code == 201, r.text
        ids[kind] = r.json()["id"]
    assert len(ep_api.client.get("/api/v1/assets", headers=pro).json()) == 2
    tpl = ep_api.client.post("/api/v1/templates", headers=pro, json={
        "name": "Show", "intro_asset_id": ids["intro"], "music_asset_id": ids["music"],
        "settings": {"duck_depth_db": 15}}).json()
    r = ep_api.client.post(f"/api/v1/sessions/{transcribed}/episodes", headers=pro,
                           json={"template_id": tpl["id"], "render": {"format": "wav"}})
    assert r.status_code == 201, r.text
    assert wait_episode(ep_api.client, pro, r.json()["id"])["status"] == "completed"
    ep = ep_api.client.get(f"/api/v1/episodes/{r.json()['id']}", headers=pro).json()
    t = ep_api.client.get(f"/api/v1/episodes/{ep['id']}/transcript", headers=pro).json()
    first_word = t["segments"][0]["words"][0]["start"]
    assert first_word >= 2.0  # the programme starts after the 2 s intro
    edits = ep_api.client.get(f"/api/v1/episodes/{ep['id']}/edit-list", headers=pro).json()
    assert edits["programme_offset_seconds"] == pytest.approx(2.0, abs=0.05)


def test_episode_refusals(ep_api: Api, pro: dict[str, str], transcribed: str, tmp_path: Path) -> None:
    c = ep_api.client
    r = c.post(f"/api/v1/sessions/{transcribed}/episodes", headers=pro, json={"cleaning": {"nope": 1}})
    assert r.status_code == 422 and "nope" in r.json()["error"]["message"]
    r = c.post(f"/api/v1/sessions/{transcribed}/episodes", headers=pro,
               json={"cleaning": {"max_pause_seconds": 0.1, "target_pause_seconds": 0.5}})
    assert r.status_code == 422
    free = ep_api.create_user("free@example.com", plan="free")
    r = upload(ep_api.client, free, audio.write_tone(tmp_path / "t.wav", seconds=1.0))
    r = c.post(f"/api/v1/sessions/{r.json()['id']}/episodes", headers=free)
    assert r.status_code == 403 and r.json()["error"]["code"] == "quota_exceeded"
    other = ep_api.create_user("other@example.com", plan="pro")
    assert c.post(f"/api/v1/sessions/{transcribed}/episodes", headers=other).status_code == 404
    eid = c.post(f"/api/v1/sessions/{transcribed}/episodes", headers=pro).json()["id"]
    for path in ("", "/status", "/audio", "/transcript", "/edit-list"):
        assert c.get(f"/api/v1/episodes/{eid}{path}", headers=other).status_code == 404
    assert c.delete(f"/api/v1/episodes/{eid}", headers=other).status_code == 404


def test_deleting_the_session_removes_its_episodes(ep_api: Api, pro: dict[str, str], transcribed: str) -> None:
    eid = ep_api.client.post(f"/api/v1/sessions/{transcribed}/episodes", headers=pro).json()["id"]
    assert wait_episode(ep_api.client, pro, eid)["status"] == "completed"
    assert any(f"episodes/{eid}/" in o.key for o in ep_api.runtime.store.list(""))
    assert ep_api.client.delete(f"/api/v1/sessions/{transcribed}", headers=pro).status_code == 204
    assert ep_api.client.get(f"/api/v1/episodes/{eid}", headers=pro).status_code == 404
    assert list(ep_api.runtime.store.list("")) == []


def test_worker_killed_while_rendering_completes_after_retry(
    fresh_db_url: Callable[[str], str], redis_queue: str, tmp_path: Path
) -> None:
    url = fresh_db_url("postgresql")
    settings = make_settings(
        tmp_path, url, workers=0, queue_url="redis://127.0.0.1:6379/0", queue_name=redis_queue,
        job_lease_seconds=3.0, job_heartbeat_seconds=0.5, reconcile_interval_seconds=1.0)
    srv = start_live_server(settings)
    log = tmp_path / "worker.log"
    first = start_worker(settings, log)
    second = None
    try:
        add_user(srv.runtime, "kill@example.com", plan="pro")
        headers = login(srv.client, "kill@example.com")
        src = write_bursts(tmp_path / "long.wav", n=120, burst=2.0, gap=2.0)  # 8 minutes
        with open(src, "rb") as fh:
            r = httpx.post(f"{srv.url}/api/v1/sessions", headers=headers, timeout=120,
                           files={"file": (src.name, fh)}, data={"speakers": "1"})
        sid = r.json()["id"]
        wait_status(srv.client, headers, sid, ("completed",), timeout=300, fail=True)
        eid = httpx.post(f"{srv.url}/api/v1/sessions/{sid}/episodes", headers=headers,
                         json={"render": {"format": "wav"}}).json()["id"]
        deadline = time.monotonic() + 120
        while True:
            st = httpx.get(f"{srv.url}/api/v1/episodes/{eid}/status", headers=headers).json()
            if st["stage"] in ("rendering", "encoding") or (st["status"] != "queued" and \
                    st["progress_percentage"] > 30):
                break
            assert time.monotonic() < deadline, st
            time.sleep(0.05)
        assert st["status"] == "processing", st
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        assert httpx.get(f"{srv.url}/api/v1/episodes/{eid}/audio", headers=headers).status_code == 409
        second = start_worker(settings, log)
        deadline = time.monotonic() + 240
        while True:
            st = httpx.get(f"{srv.url}/api/v1/episodes/{eid}/status", headers=headers).json()
            if st["status"] in ("completed", "failed"):
                break
            assert time.monotonic() < deadline, st
            time.sleep(0.2)
        assert st["status"] == "completed" and st["attempt"] == 2, st
        got = httpx.get(f"{srv.url}/api/v1/episodes/{eid}/audio", headers=headers)
        samples, _ = decode(got.content)
        ep = httpx.get(f"{srv.url}/api/v1/episodes/{eid}", headers=headers).json()
        assert abs(samples.shape[0] / 44100 - ep["duration_seconds"]) < 0.1
    finally:
        for p in (first, second):
            if p is not None and p.poll() is None:
                p.terminate()
                p.wait(10)
        srv.stop()
        srv.runtime.close()

