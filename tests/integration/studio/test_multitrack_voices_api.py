"""Multitrack end to end with two different real voices: upload over the API, Whisper
base transcribes each track on its own, an episode is rendered from the tracks.

Ann is piper's Joe at 22.05 kHz mono; Bob is espeak-ng at 48 kHz stereo, 6 dB quieter,
his file starting 0.5 s late (offset) and longer than Ann's. Bob answers while Ann's first
phrase ends (crosstalk); a 2 s stretch where only Ann is silent; a 3 s stretch where both
are.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyloudnorm
import pytest

from tapeworks.episodes.models import Episode
from tapeworks.queue import jobs
from tapeworks.sessions.models import RecordingSession
from tests.conftest import Api
from tests.helpers.audio import decode_all, true_peak_dbtp
from tests.helpers.voices import Phrase, write_track

pytestmark = pytest.mark.slow

OFFSET = 0.5
CLIP_CHECK = 0.02


def _norm(text: str) -> set[str]:
    return {w for w in re.sub(r"[^a-z ]", " ", text.lower()).split() if w}


def _run(api: Api, model: type, oid: str) -> str:
    with api.runtime.database.transaction(write=False) as db:
        row = db.get(model, oid)
        assert row is not None and row.current_job_id
        job_id = row.current_job_id
    return run_job_id(api, job_id)


def test_two_voices_over_the_api(fresh_db_url: Callable[[str], str], make_api: Callable[..., Api],
                                 tmp_path: Path) -> None:
    ann: list[Phrase] = write_track(tmp_path / "ann.wav", tmp_path, "piper-joe", [
        (0.3, "Welcome back to the show, everybody."),
        (5.5, "And that is the whole story."),
        (13.0, "Thanks for listening."),
    ], seconds=15.0, rate=22050, channels=1)
    bob: list[Phrase] = write_track(tmp_path / "bob.wav", tmp_path, "espeak-en-us", [
        (1.4, "Thank you, glad to be here."),
        (7.3, "Wow, I did not know that."),
    ], seconds=16.0, rate=48000, channels=2, level=0.5)
    ann_speech = [p.audible for p in ann]
    bob_speech = [(a + OFFSET, b + OFFSET) for a, b in (p.audible for p in bob)]
    assert ann_speech[0][1] > bob_speech[0][0]  # crosstalk, as the docstring says

    api = make_api(fresh_db_url("sqlite"), workers=0, speech_engine="whisper", speech_model="base")
    user = api.create_user("pod@example.com", plan="pro")
    with open(tmp_path / "ann.wav", "rb") as a, open(tmp_path / "bob.wav", "rb") as b:
        r = api.client.post("/api/v1/sessions", headers=user,
                            data={"track_names": ["Ann", "Bob"], "track_offsets": ["0", str(OFFSET)],
                                  "language": "en", "title": "Two voices"},
                            files=[("file", ("ann.wav", a)), ("file", ("bob.wav", b))])
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    assert r.json()["duration_seconds"] == pytest.approx(16.5, abs=0.01)  # Bob's track, late
    assert _run(api, RecordingSession, sid) == "completed"
    st = api.client.get(f"/api/v1/sessions/{sid}/status", headers=user).json()
    assert st["status"] == "completed", st

    t = api.client.get(f"/api/v1/sessions/{sid}/transcript", headers=user).json()
    assert [(s["id"], s["name"]) for s in t["speakers"]] == [("S1", "Ann"), ("S2", "Bob")]
    said = {"S1": set(), "S2": set()}  # type: dict[str, set[str]]
    for seg in t["segments"]:
        for w in seg["words"]:
            said[w["speaker"]] |= _norm(w["text"])
            spans = ann_speech if w["speaker"] == "S1" else bob_speech
            mid = (w["start"] + w["end"]) / 2
            assert any(a - 0.3 <= mid <= b + 0.3 for a, b in spans), (w, spans)
    ann_words = set().union(*(_norm(p.text) for p in ann))
    bob_words = set().union(*(_norm(p.text) for p in bob))
    assert {"welcome", "story", "listening"} <= said["S1"] and said["S1"] <= ann_words | {"everybody"}
    assert {"glad", "here", "wow"} <= said["S2"], said["S2"]
    assert not said["S2"] & {"welcome", "story", "listening"}  # no bleed: tracks are apart
    assert len(said["S2"] - bob_words) <= 1, said["S2"] - bob_words

    r = api.client.post(f"/api/v1/sessions/{sid}/episodes", headers=user, json={
        "cleaning": {"max_pause_seconds": 1.5, "target_pause_seconds": 0.5},
        "render": {"format": "wav", "channels": 2}})
    assert r.status_code == 201, r.text
    eid = r.json()["id"]
    assert _run(api, Episode, eid) == "completed"
    ep = api.client.get(f"/api/v1/episodes/{eid}", headers=user).json()
    assert ep["status"] == "completed", ep
    edits = api.client.get(f"/api/v1/episodes/{eid}/edit-list", headers=user).json()
    pauses = [c for c in edits["cuts"] if c["kind"] == "pause"]
    assert pauses, "the 3 s where both are silent is shortened"
    for cut in edits["cuts"]:  # no word clipped on either track (at 20 ms)
        for a, b in ann_speech + bob_speech:
            assert cut["source_end"] <= a + CLIP_CHECK or cut["source_start"] >= b - CLIP_CHECK, (cut, (a, b))
    bob_talks = bob_speech[1]  # Ann is silent while Bob talks: no cut there
    assert not any(c["source_start"] < bob_talks[1] and c["source_end"] > bob_talks[0] for c in edits["cuts"])
    served = tmp_path / "episode.wav"
    served.write_bytes(api.client.get(f"/api/v1/episodes/{eid}/audio", headers=user).content)
    audio, rate = decode_all(served)
    assert audio.shape[0] == 2
    lufs = pyloudnorm.Meter(rate).integrated_loudness(audio.T.astype(np.float64))
    assert lufs == pytest.approx(ep["loudness"]["target_lufs"], abs=0.5)
    assert true_peak_dbtp(audio) <= -1.0 + 0.05
    words = [w for s in api.client.get(f"/api/v1/episodes/{eid}/transcript", headers=user).json()["segments"]
             for w in s["words"]]
    assert {w["speaker"] for w in words} == {"S1", "S2"}


def run_job_id(api: Api, job_id: str) -> str:
    """Claim this job and run it through work and save, in this process."""
    owner = jobs.make_lease_owner()
    claimed = api.runtime.database.run(lambda db: jobs.claim_job(db, api.runtime, job_id, owner))
    assert isinstance(claimed, tuple), f"job {job_id} could not be claimed: {claimed}"
    return jobs.run_claimed(api.runtime, claimed)
