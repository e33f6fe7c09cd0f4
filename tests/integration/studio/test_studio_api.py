"""The studio through the API: the user's studio settings (the edit marker as every upload's
hotword, the defaults of every episode), narrators, and assets spoken from text (the
offline narrators, the cloud one against a local server, and the failures a user meets);
on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyloudnorm
import pytest

from tapeworks.episodes.models import Asset
from tapeworks.queue.models import Job
from tapeworks.sessions.models import RecordingSession
from tapeworks.sessions.tasks import TranscribeHandler
from tests.conftest import Api
from tests.helpers.api import upload_ok, wait_status
from tests.helpers.audio import decode_bytes, write_spaced_bursts
from tests.helpers.eleven import KEY


def wait_asset(api: Api, headers: dict[str, str], aid: str, timeout: float = 120) -> dict[str, Any]:
    import time

    deadline = time.monotonic() + timeout
    while True:
        a = dict(api.client.get(f"/api/v1/assets/{aid}", headers=headers).json())
        if a["status"] in ("completed", "failed", "cancelled"):
            return a
        if time.monotonic() > deadline:
            pytest.fail(f"asset {aid} did not finish in {timeout} s: {a}")
        time.sleep(0.1)


@pytest.fixture
def studio_api(db_url: str, make_api: Callable[..., Api]) -> Api:
    return make_api(db_url, workers=1)


@pytest.fixture
def pro(studio_api: Api) -> dict[str, str]:
    return studio_api.create_user("pod@example.com", plan="pro")


# --- studio settings ---------------------------------------------------------------------------
def test_studio_settings_default_set_and_refused(studio_api: Api, pro: dict[str, str]) -> None:
    c = studio_api.client
    assert c.get("/api/v1/studio/settings", headers=pro).json() == {
        "edit_marker": "flubber", "edit_marker_pause_seconds": 0.4, "bleep_words": [],
        "bleep_default_list": False, "bleep_mode": "beep"}
    r = c.patch("/api/v1/studio/settings", headers=pro,
                json={"edit_marker": "  scratch   that ", "bleep_words": ["Darn", "darn", " heck "],
                      "bleep_mode": "mute"})
    assert r.status_code == 200, r.text
    assert r.json() == {"edit_marker": "scratch that", "edit_marker_pause_seconds": 0.4,
                        "bleep_words": ["Darn", "darn", "heck"], "bleep_default_list": False,
                        "bleep_mode": "mute"}
    r = c.patch("/api/v1/studio/settings", headers=pro, json={"edit_marker": None})
    assert r.json()["edit_marker"] is None and r.json()["bleep_mode"] == "mute"  # the rest kept
    for bad, field in (({"bleep_mode": "honk"}, "bleep_mode"), ({"edit_marker": "12345"}, "edit_marker"),
                       ({"edit_marker_pause_seconds": 9}, "edit_marker_pause_seconds"),
                       ({"what": 1}, "what")):
        r = c.patch("/api/v1/studio/settings", headers=pro, json=bad)
        assert r.status_code == 422, (bad, r.text)
        assert field in r.text
    other = studio_api.create_user("other@example.com")
    assert c.get("/api/v1/studio/settings", headers=other).json()["edit_marker"] == "flubber"
    assert c.get("/api/v1/studio/settings").status_code == 401


def test_the_marker_is_every_uploads_hotword_and_the_episodes_default(
    studio_api: Api, pro: dict[str, str], tmp_path: Path
) -> None:
    c, rt = studio_api.client, studio_api.runtime
    sid = upload_ok(c, pro, write_spaced_bursts(tmp_path / "talk.wav"), speakers="1")

    def hotwords() -> str | None:
        with rt.database.transaction() as db:
            session = db.get(RecordingSession, sid)
            assert session is not None and session.current_job_id
            job = db.get(Job, session.current_job_id)
            assert job is not None
            return TranscribeHandler().prepare(db, job).hotwords

    assert hotwords() == "flubber"
    c.patch("/api/v1/studio/settings", headers=pro, json={"edit_marker": "oops redo",
                                                          "bleep_words": ["darn"]})
    assert hotwords() == "oops redo"
    c.patch("/api/v1/studio/settings", headers=pro, json={"edit_marker": None})
    assert hotwords() is None
    assert wait_status(c, pro, sid, timeout=60, fail=True)["status"] == "completed"
    c.patch("/api/v1/studio/settings", headers=pro, json={"edit_marker": "oops"})
    ep = c.post(f"/api/v1/sessions/{sid}/episodes", headers=pro).json()
    cleaning = ep["settings"]["cleaning"]
    assert cleaning["edit_marker"] == "oops" and cleaning["bleep_words"] == ["darn"]
    ep2 = c.post(f"/api/v1/sessions/{sid}/episodes", headers=pro,
                 json={"cleaning": {"edit_marker": None, "bleep_mode": "mute"}}).json()
    assert ep2["settings"]["cleaning"]["edit_marker"] is None  # the episode's own setting wins
    assert ep2["settings"]["cleaning"]["bleep_mode"] == "mute"
    r = c.post(f"/api/v1/sessions/{sid}/episodes", headers=pro, json={"cleaning": {"bleep_mode": "x"}})
    assert r.status_code == 422 and "bleep_mode" in r.text


# --- narrators and generated assets ---------------------------------------------------------------
def test_narrators_are_listed_with_the_neural_default(studio_api: Api, pro: dict[str, str]) -> None:
    found = studio_api.client.get("/api/v1/narrators", headers=pro).json()
    ids = [n["id"] for n in found]
    assert ids[0] == "piper-joe" and found[0]["default"] and found[0]["engine"] == "piper"
    assert "espeak-en-us" in ids and sum(n["default"] for n in found) == 1
    assert studio_api.client.get("/api/v1/narrators").status_code == 401


def test_a_spoken_intro_opens_a_rendered_episode(studio_api: Api, pro: dict[str, str],
                                                tmp_path: Path) -> None:
    c = studio_api.client
    r = c.post("/api/v1/assets/speech", headers=pro, json={
        "text": "Welcome to Tapeworks Weekly. Here is today's talk.", "narrator": "piper-joe",
        "name": "Weekly intro", "kind": "intro"})
    assert r.status_code == 202, r.text
    asset = r.json()
    assert asset["status"] in ("processing", "queued") and asset["origin"] == "speech"
    assert c.get(f"/api/v1/assets/{asset['id']}/audio", headers=pro).status_code in (200, 409)
    done = wait_asset(studio_api, pro, asset["id"])
    assert done["status"] == "completed", done
    assert done["narrator"] == "piper-joe" and done["name"] == "Weekly intro"
    assert 2.0 < done["duration_seconds"] < 6.0 and done["error"] is None
    played = c.get(f"/api/v1/assets/{asset['id']}/audio", headers=pro)
    assert played.status_code == 200
    samples, rate = decode_bytes(played.content)
    assert samples.shape[0] > rate * 2

    sid = upload_ok(c, pro, write_spaced_bursts(tmp_path / "talk.wav"), speakers="1")
    assert wait_status(c, pro, sid, timeout=60, fail=True)["status"] == "completed"
    tpl = c.post("/api/v1/templates", headers=pro, json={"name": "Weekly",
                                                        "intro_asset_id": asset["id"]}).json()
    r = c.post(f"/api/v1/sessions/{sid}/episodes", headers=pro, json={"template_id": tpl["id"]})
    assert r.status_code == 201, r.text
    eid = r.json()["id"]
    assert wait_status(c, pro, eid, ("completed", "failed"), what="episodes", timeout=120,
                       fail=True)["status"] == "completed"
    edits = c.get(f"/api/v1/episodes/{eid}/edit-list", headers=pro).json()
    assert edits["programme_offset_seconds"] == pytest.approx(done["duration_seconds"], abs=0.05)
    ep = c.get(f"/api/v1/episodes/{eid}", headers=pro).json()
    assert abs(ep["loudness"]["output_lufs"] - ep["loudness"]["target_lufs"]) <= 0.5
    audio, rate = decode_bytes(c.get(f"/api/v1/episodes/{eid}/audio", headers=pro).content)
    split = round(done["duration_seconds"] * rate)
    meter = pyloudnorm.Meter(rate)
    intro_lufs = meter.integrated_loudness(audio[:split])
    assert intro_lufs == pytest.approx(ep["loudness"]["target_lufs"], abs=2.0)  # levelled


def test_speech_asset_refusals_leave_no_asset(studio_api: Api, pro: dict[str, str]) -> None:
    c = studio_api.client
    r = c.post("/api/v1/assets/speech", headers=pro, json={"text": "a" * 5001})
    assert r.status_code == 422 and "5,000" in r.json()["error"]["message"]
    r = c.post("/api/v1/assets/speech", headers=pro, json={"text": "Hello.", "narrator": "nobody"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_narrator"
    assert "nobody" in r.json()["error"]["message"]
    r = c.post("/api/v1/assets/speech", headers=pro, json={"text": "   "})
    assert r.status_code == 422 and "empty" in r.json()["error"]["message"]
    r = c.post("/api/v1/assets/speech", headers=pro, json={"text": "Hello.", "kind": "other"})
    assert r.status_code == 422
    free = studio_api.create_user("free@example.com", plan="free")
    r = c.post("/api/v1/assets/speech", headers=free, json={"text": "Hello."})
    assert r.status_code == 403
    assert c.get("/api/v1/assets", headers=pro).json() == []
    assert list(studio_api.runtime.store.list("")) == []
    with studio_api.runtime.database.transaction(write=False) as db:
        assert db.query(Asset).count() == 0 and db.query(Job).count() == 0


def test_the_fallback_narrator_speaks_when_asked(studio_api: Api, pro: dict[str, str]) -> None:
    c = studio_api.client
    r = c.post("/api/v1/assets/speech", headers=pro, json={"text": "Thanks for listening.",
                                                          "narrator": "espeak-en-us", "kind": "outro"})
    assert r.status_code == 202, r.text
    done = wait_asset(studio_api, pro, r.json()["id"])
    assert done["status"] == "completed" and done["kind"] == "outro" and done["format"] == "wav"
    assert done["name"] == "Thanks for listening."  # named after its words when not named
    assert c.delete(f"/api/v1/assets/{done['id']}", headers=pro).status_code == 204
    assert list(studio_api.runtime.store.list("")) == []


@pytest.fixture
def cloud_api(db_url: str, make_api: Callable[..., Api], eleven: tuple[str, dict[str, Any]]) -> Api:
    url, _ = eleven
    return make_api(db_url, workers=1, narrator_cloud_url=url, narrator_cloud_api_key=KEY)


def test_the_cloud_narrator_against_a_local_server(cloud_api: Api, eleven: tuple[str, dict[str, Any]]
                                                   ) -> None:
    _, state = eleven
    user = cloud_api.create_user("pod@example.com", plan="pro")
    c = cloud_api.client
    ids = [n["id"] for n in c.get("/api/v1/narrators", headers=user).json()]
    assert "cloud-21m00Tcm4TlvDq8ikWAM" in ids and ids[0] == "piper-joe"
    r = c.post("/api/v1/assets/speech", headers=user, json={
        "text": "Welcome to the show.", "narrator": "cloud-21m00Tcm4TlvDq8ikWAM", "name": "Cloud"})
    assert r.status_code == 202, r.text
    done = wait_asset(cloud_api, user, r.json()["id"])
    assert done["status"] == "completed" and done["format"] == "mp3", done
    path, _query, body = state["requests"][-1]
    assert path == "/v1/text-to-speech/21m00Tcm4TlvDq8ikWAM" and body["text"] == "Welcome to the show."
    played = c.get(f"/api/v1/assets/{done['id']}/audio", headers=user)
    assert played.status_code == 200 and played.content == state["mp3"]

    # the service fails while speaking: a clear error, no audio, not usable in a template
    state["busy"] = True
    r = c.post("/api/v1/assets/speech", headers=user, json={
        "text": "Goodbye.", "narrator": "cloud-21m00Tcm4TlvDq8ikWAM", "kind": "outro"})
    assert r.status_code == 202, r.text
    failed = wait_asset(cloud_api, user, r.json()["id"])
    assert failed["status"] == "failed", failed
    assert "busy; try again" in failed["error"]
    assert "127.0.0.1" not in failed["error"] and "xi-" not in failed["error"]
    assert failed["size_bytes"] == 0 and failed["duration_seconds"] == 0
    r = c.get(f"/api/v1/assets/{failed['id']}/audio", headers=user)
    assert r.status_code == 409 and "could not be made" in r.json()["error"]["message"]
    r = c.post("/api/v1/templates", headers=user, json={"name": "T", "outro_asset_id": failed["id"]})
    assert r.status_code == 409
    stored = [o.key for o in cloud_api.runtime.store.list("")]
    assert len(stored) == 1 and done["id"] in stored[0]  # only the good asset has audio
