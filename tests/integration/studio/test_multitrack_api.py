"""Multitrack sessions through the API (fake speech engine, real audio, real databases):
several files with track names and offsets, a track added before transcription and 409
after, each track's words carrying its speaker, the mixdown as the player's audio, quotas
(the longest track, bytes summed), refusals that leave nothing stored, retention, and an
episode rendered from the tracks; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyloudnorm
import pytest

from tapeworks.queue import jobs
from tapeworks.retention import service as retention
from tapeworks.sessions.models import RecordingSession, SessionTrack
from tests.conftest import Api
from tests.helpers.api import wait_status
from tests.helpers.audio import (
    decode_bytes,
    speechlike,
    true_peak_dbtp,
    write_text_as_mp3,
    write_wav,
)


def burst_track(path: Path, seconds: float, bursts: list[tuple[float, float]], *, rate: int,
                channels: int = 1, level: float = 1.0, seed: int = 1) -> Path:
    audio = np.zeros((channels, int(seconds * rate)), np.float32)
    for k, (a, b) in enumerate(bursts):
        i0, i1 = round(a * rate), round(b * rate)
        audio[:, i0:i1] += speechlike(b - a + 0.01, seed=seed + k, channels=channels, rate=rate)[:, : i1 - i0] * 4 * level
    return write_wav(path, audio, rate)


# Ann talks at 0.5-2.5 and 8-10 s of her file; Bob's file starts 1 s late (offset) and he
# talks at 3-5 s of his file (4-6 s on the timeline): nobody talks at 6-8 s.
ANN = [(0.5, 2.5), (8.0, 10.0)]
BOB = [(3.0, 5.0)]
BOB_OFFSET = 1.0


@pytest.fixture
def tracks(tmp_path: Path) -> dict[str, Path]:
    return {
        "ann": burst_track(tmp_path / "ann.wav", 11.0, ANN, rate=22050),
        "bob": burst_track(tmp_path / "bob.flac", 9.0, BOB, rate=48000, channels=2, level=0.4, seed=9),
        "cat": burst_track(tmp_path / "cat.wav", 12.5, [(11.0, 12.0)], rate=16000, seed=30),
    }


def post_tracks(api: Api, headers: dict[str, str], files: list[tuple[str, Path]],
                offsets: list[float] | None = None, **data: Any) -> Any:
    handles = [open(p, "rb") for _, p in files]  # noqa: SIM115 - closed below
    try:
        form: dict[str, Any] = {"track_names": [n for n, _ in files], **data}
        if offsets is not None:
            form["track_offsets"] = [str(o) for o in offsets]
        return api.client.post("/api/v1/sessions", headers=headers, data=form,
                               files=[("file", (p.name, fh, "application/octet-stream"))
                                      for (_, p), fh in zip(files, handles, strict=True)])
    finally:
        for fh in handles:
            fh.close()


def run_job(api: Api, sid: str) -> str:
    """Run the session's queued job in this process (the API has no workers)."""
    with api.runtime.database.transaction(write=False) as db:
        session = db.get(RecordingSession, sid)
        assert session is not None and session.current_job_id
        job_id = session.current_job_id
    return run_job_id(api, job_id)


@pytest.fixture
def mt_api(db_url: str, make_api: Callable[..., Api]) -> Api:
    return make_api(db_url, workers=0)


@pytest.fixture
def pro(mt_api: Api) -> dict[str, str]:
    return mt_api.create_user("pod@example.com", plan="pro")


def test_two_tracks_then_a_third_each_word_its_tracks_speaker_and_the_mixdown_plays(
    mt_api: Api, pro: dict[str, str], tracks: dict[str, Path]
) -> None:
    c, rt = mt_api.client, mt_api.runtime
    r = post_tracks(mt_api, pro, [("Ann", tracks["ann"]), ("Bob", tracks["bob"])],
                    offsets=[0.0, BOB_OFFSET], title="Remote talk")
    assert r.status_code == 201, r.text
    s = r.json()
    sid = s["id"]
    assert s["track_count"] == 2 and s["status"] == "queued" and s["num_speakers"] == 2
    assert [(t["position"], t["name"], t["speaker"], t["offset_seconds"]) for t in s["tracks"]] == [
        (1, "Ann", "S1", 0.0), (2, "Bob", "S2", 1.0)]
    assert s["tracks"][1]["sample_rate"] == 48000 and s["tracks"][1]["channels"] == 2
    assert s["duration_seconds"] == pytest.approx(11.0, abs=0.01)  # the longest track: Ann's
    sizes = [t["size_bytes"] for t in s["tracks"]]
    assert s["source"]["size_bytes"] == sum(sizes) and not s["source"]["available"]
    assert c.get(f"/api/v1/sessions/{sid}/audio", headers=pro).status_code == 409  # no mix yet

    # a third track before the transcription starts
    with open(tracks["cat"], "rb") as fh:
        r = c.post(f"/api/v1/sessions/{sid}/tracks", headers=pro, data={"name": "Cat"},
                   files={"file": ("cat.wav", fh)})
    assert r.status_code == 201, r.text
    assert r.json()["track_count"] == 3 and r.json()["duration_seconds"] == pytest.approx(12.5, abs=0.01)
    assert r.json()["tracks"][2]["speaker"] == "S3"

    assert run_job(mt_api, sid) == "completed"
    st = c.get(f"/api/v1/sessions/{sid}/status", headers=pro).json()
    assert st["status"] == "completed", st
    with open(tracks["cat"], "rb") as fh:  # too late now
        r = c.post(f"/api/v1/sessions/{sid}/tracks", headers=pro, data={"name": "Dan"},
                   files={"file": ("cat.wav", fh)})
    assert r.status_code == 409 and "before its transcription starts" in r.json()["error"]["message"]

    t = c.get(f"/api/v1/sessions/{sid}/transcript", headers=pro).json()
    assert [(sp["id"], sp["name"]) for sp in t["speakers"]] == [("S1", "Ann"), ("S2", "Bob"), ("S3", "Cat")]
    assert t["diarization"]["status"] == "disabled"
    words = [w for seg in t["segments"] for w in seg["words"]]
    assert {w["speaker"] for w in words} == {"S1", "S2", "S3"}
    for w in words:  # each word lies where its own track has speech (timeline time)
        spans = {"S1": ANN, "S2": [(a + BOB_OFFSET, b + BOB_OFFSET) for a, b in BOB],
                 "S3": [(11.0, 12.0)]}[w["speaker"]]
        mid = (w["start"] + w["end"]) / 2
        assert any(a - 0.1 <= mid <= b + 0.1 for a, b in spans), w
    starts = [seg["start"] for seg in t["segments"]]
    assert starts == sorted(starts)  # merged in time order

    # the player's audio is the mixdown, stored under the session's prefix
    s = c.get(f"/api/v1/sessions/{sid}", headers=pro).json()
    assert s["source"]["available"] and s["source"]["format"] == "mp3"
    assert s["duration_seconds"] == pytest.approx(12.5, abs=0.01)
    audio = c.get(f"/api/v1/sessions/{sid}/audio", headers=pro)
    assert audio.status_code == 200 and audio.headers["content-type"] == "audio/mpeg"
    mix, rate = decode_bytes(audio.content)
    assert mix.shape[0] / rate == pytest.approx(12.5, abs=0.05)
    assert true_peak_dbtp(mix.T) <= -0.5  # kept under -1 dBTP before the MP3 encoder
    for a, b in [*ANN, (BOB[0][0] + BOB_OFFSET, BOB[0][1] + BOB_OFFSET), (11.0, 12.0)]:
        part = mix[round((a + 0.2) * rate) : round((b - 0.2) * rate)]
        assert np.sqrt(np.mean(part**2)) > 0.01, (a, b)  # every track is in the mix
    quiet = mix[round(6.3 * rate) : round(7.7 * rate)]
    assert np.sqrt(np.mean(quiet**2)) < 0.003  # nobody talks at 6-8 s
    keys = [o.key for o in rt.store.list("")]
    prefix = f"users/{_user_id(mt_api, sid)}/sessions/{sid}/"
    assert all(k.startswith(prefix) for k in keys)
    assert sum(k.startswith(f"{prefix}tracks/") for k in keys) == 3
    mixes = [k for k in keys if k.startswith(f"{prefix}mixdowns/")]  # this attempt's own mix
    assert len(mixes) == 1 and mixes[0].endswith(".mp3")
    wave = c.get(f"/api/v1/sessions/{sid}/waveform", headers=pro)
    assert wave.status_code == 200 and wave.json()["duration_seconds"] == pytest.approx(12.5, abs=0.01)

    # charged once for the recording: the longest track, not the sum of the tracks
    usage = c.get("/api/v1/plan", headers=pro).json()["usage"]
    assert usage["monthly_used_seconds"] == pytest.approx(12.5, abs=0.05)
    # the tracks' bytes summed, and the transcript's version
    versions = sum(o.size for o in rt.store.list(prefix)
                   if o.key.rsplit("/", 1)[-1].startswith("transcript.v"))
    assert usage["storage_bytes_used"] == s["source"]["size_bytes"] + versions


def _user_id(api: Api, sid: str) -> str:
    with api.runtime.database.transaction(write=False) as db:
        session = db.get(RecordingSession, sid)
        assert session is not None
        return session.user_id


def test_a_track_that_is_not_audio_refuses_the_whole_upload_and_leaves_nothing(
    mt_api: Api, pro: dict[str, str], tracks: dict[str, Path], tmp_path: Path
) -> None:
    bad = write_text_as_mp3(tmp_path / "notes.mp3")
    r = post_tracks(mt_api, pro, [("Ann", tracks["ann"]), ("Bob", bad)])
    assert r.status_code == 415, r.text
    message = r.json()["error"]["message"]
    assert "track 2 (Bob)" in message and "nothing was uploaded" in message
    assert str(tmp_path) not in message
    assert list(mt_api.runtime.store.list("")) == []
    with mt_api.runtime.database.transaction(write=False) as db:
        assert db.query(RecordingSession).count() == 0 and db.query(SessionTrack).count() == 0
    assert list((mt_api.runtime.settings.scratch_dir / "uploads").glob("*")) == []


def test_track_form_refusals(mt_api: Api, pro: dict[str, str], tracks: dict[str, Path]) -> None:
    c = mt_api.client
    with open(tracks["ann"], "rb") as a, open(tracks["bob"], "rb") as b:
        r = c.post("/api/v1/sessions", headers=pro, files=[("file", ("a.wav", a)), ("file", ("b.flac", b))])
    assert r.status_code == 422 and "track_names" in r.json()["error"]["message"]
    r = post_tracks(mt_api, pro, [("Ann", tracks["ann"]), ("Bob", tracks["bob"])], offsets=[0.0])
    assert r.status_code == 422 and "track_offsets" in r.json()["error"]["message"]
    r = post_tracks(mt_api, pro, [("Ann", tracks["ann"]), ("Bob", tracks["bob"])], offsets=[0.0, -2])
    assert r.status_code == 422 and "offset" in r.json()["error"]["message"]
    r = post_tracks(mt_api, pro, [("Ann", tracks["ann"]), ("  ", tracks["bob"])])
    assert r.status_code == 422 and "track 2 needs a name" in r.json()["error"]["message"]
    assert list(mt_api.runtime.store.list("")) == []
    # a recording uploaded as one file takes no tracks
    with open(tracks["ann"], "rb") as fh:
        sid = c.post("/api/v1/sessions", headers=pro, files={"file": ("a.wav", fh)}).json()["id"]
    with open(tracks["bob"], "rb") as fh:
        r = c.post(f"/api/v1/sessions/{sid}/tracks", headers=pro, data={"name": "Bob"},
                   files={"file": ("b.flac", fh)})
    assert r.status_code == 409 and "uploaded as one file" in r.json()["error"]["message"]
    other = mt_api.create_user("other@example.com", plan="pro")
    r = post_tracks(mt_api, pro, [("Ann", tracks["ann"])])
    assert r.status_code == 201 and r.json()["track_count"] == 1
    with open(tracks["bob"], "rb") as fh:
        r = c.post(f"/api/v1/sessions/{r.json()['id']}/tracks", headers=other, data={"name": "Bob"},
                   files={"file": ("b.flac", fh)})
    assert r.status_code == 404


@pytest.fixture
def tight_api(db_url: str, make_api: Callable[..., Api]) -> Api:
    overrides = {"free": {"max_recording_seconds": 11, "max_file_bytes": 500_000}}
    return make_api(db_url, workers=0, plan_overrides=json.dumps(overrides))


def test_quotas_count_the_longest_track_and_the_bytes_summed(tight_api: Api, tmp_path: Path) -> None:
    user = tight_api.create_user("free@example.com", plan="free")
    c = tight_api.client
    wide = [burst_track(tmp_path / f"wide{k}.wav", 9.0, [(1.0, 2.0)], rate=16000, seed=k) for k in (1, 2)]
    narrow = [burst_track(tmp_path / f"narrow{k}.wav", 9.0, [(1.0, 2.0)], rate=8000, seed=k) for k in (1, 2)]
    sizes = [p.stat().st_size for p in wide]
    assert max(sizes) < 500_000 < sum(sizes)  # each file fits, not both together
    r = post_tracks(tight_api, user, [("Ann", wide[0]), ("Bob", wide[1])])
    assert r.status_code == 413, r.text
    # each track is 9 s; with Bob 3 s late the recording is 12 s long
    r = post_tracks(tight_api, user, [("Ann", narrow[0]), ("Bob", narrow[1])], offsets=[0, 3])
    assert r.status_code == 403 and r.json()["error"]["details"]["limit_type"] == "max_recording_seconds"
    r = post_tracks(tight_api, user, [("Ann", narrow[0]), ("Bob", narrow[1])], offsets=[0, 1])
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    assert r.json()["duration_seconds"] == pytest.approx(10.0, abs=0.01)
    with open(narrow[0], "rb") as fh:  # a third track would make it 13 s: refused, not stored
        r = c.post(f"/api/v1/sessions/{sid}/tracks", headers=user, data={"name": "Cat", "offset": "4"},
                   files={"file": ("c.wav", fh)})
    assert r.status_code == 403 and "max_recording_seconds" in r.text
    with open(wide[0], "rb") as fh:  # the bytes summed would pass the limit
        r = c.post(f"/api/v1/sessions/{sid}/tracks", headers=user, data={"name": "Cat"},
                   files={"file": ("c.wav", fh)})
    assert r.status_code == 413, r.text
    assert len(list(tight_api.runtime.store.list(""))) == 2
    assert c.get(f"/api/v1/sessions/{sid}", headers=user).json()["track_count"] == 2


def test_retention_deletes_the_tracks_and_the_mixdown(mt_api: Api, pro: dict[str, str],
                                                       tracks: dict[str, Path]) -> None:
    r = post_tracks(mt_api, pro, [("Ann", tracks["ann"]), ("Bob", tracks["bob"])], offsets=[0, 1])
    sid = r.json()["id"]
    assert run_job(mt_api, sid) == "completed"
    with mt_api.runtime.database.transaction(write=False) as db:
        session = db.get(RecordingSession, sid)
        assert session is not None and session.completed_at is not None
        done = session.completed_at
    report = retention.purge(mt_api.runtime, now=done + timedelta(days=181))
    assert [i.session_id for i in report.deleted] == [sid]
    keys = [o.key for o in mt_api.runtime.store.list("")]
    assert keys and all("transcript" in k for k in keys)  # tracks and mixdown gone, words kept
    s = mt_api.client.get(f"/api/v1/sessions/{sid}", headers=pro).json()
    assert not s["source"]["available"] and s["source"]["purged_at"]
    assert mt_api.client.post(f"/api/v1/sessions/{sid}/episodes", headers=pro).status_code == 410


def test_an_episode_of_a_multitrack_session_is_rendered_from_its_tracks(
    mt_api: Api, pro: dict[str, str], tracks: dict[str, Path]
) -> None:
    c = mt_api.client
    r = post_tracks(mt_api, pro, [("Ann", tracks["ann"]), ("Bob", tracks["bob"])],
                    offsets=[0.0, BOB_OFFSET])
    sid = r.json()["id"]
    assert run_job(mt_api, sid) == "completed"
    r = c.post(f"/api/v1/sessions/{sid}/episodes", headers=pro,
               json={"cleaning": {"max_pause_seconds": 1.0, "target_pause_seconds": 0.5}})
    assert r.status_code == 201, r.text
    eid = r.json()["id"]
    assert run_job_of_episode(mt_api, eid) == "completed"
    st = wait_status(c, pro, eid, ("completed", "failed"), what="episodes", timeout=5, fail=True)
    assert st["status"] == "completed"
    ep = c.get(f"/api/v1/episodes/{eid}", headers=pro).json()
    loud = ep["loudness"]
    assert abs(loud["output_lufs"] - loud["target_lufs"]) <= 0.5 and loud["true_peak_dbtp"] <= -1.0
    edits = c.get(f"/api/v1/episodes/{eid}/edit-list", headers=pro).json()
    pauses = [cut for cut in edits["cuts"] if cut["kind"] == "pause"]
    assert pauses, edits
    speech = [*ANN, (BOB[0][0] + BOB_OFFSET, BOB[0][1] + BOB_OFFSET)]
    for cut in edits["cuts"]:  # only where both tracks are silent, no word clipped (20 ms)
        for a, b in speech:
            assert cut["source_end"] <= a + 0.02 or cut["source_start"] >= b - 0.02, (cut, (a, b))
    assert any(cut["source_start"] >= 6.0 - 0.5 and cut["source_end"] <= 8.0 + 0.02 for cut in pauses)
    audio, rate = decode_bytes(c.get(f"/api/v1/episodes/{eid}/audio", headers=pro).content)
    assert pyloudnorm.Meter(rate).integrated_loudness(audio) == pytest.approx(loud["target_lufs"], abs=0.7)
    doc = json.loads(mt_api.runtime.store.get_bytes(_edit_list_key(mt_api, eid)))
    gains = doc["multitrack"]["track_gains_db"]
    assert gains[1] > gains[0] + 3  # Bob is quieter: more gain to bring him level


def run_job_of_episode(api: Api, eid: str) -> str:
    from tapeworks.episodes.models import Episode

    with api.runtime.database.transaction(write=False) as db:
        ep = db.get(Episode, eid)
        assert ep is not None and ep.current_job_id
        job_id = ep.current_job_id
    return run_job_id(api, job_id)


def _edit_list_key(api: Api, eid: str) -> str:
    from tapeworks.episodes.models import Episode

    with api.runtime.database.transaction(write=False) as db:
        ep = db.get(Episode, eid)
        assert ep is not None and ep.edit_list_key
        return ep.edit_list_key


def run_job_id(api: Api, job_id: str) -> str:
    """Claim this job and run it through work and save, in this process."""
    owner = jobs.make_lease_owner()
    claimed = api.runtime.database.run(lambda db: jobs.claim_job(db, api.runtime, job_id, owner))
    assert isinstance(claimed, tuple), f"job {job_id} could not be claimed: {claimed}"
    return jobs.run_claimed(api.runtime, claimed)
