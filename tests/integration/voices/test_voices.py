"""Voice profiles through the API, on SQLite and PostgreSQL, with real uploads, real
consumers and real speaker embeddings (the fake engine writes the words; the voices are
espeak-ng variants, tests/helpers/speakers.py).

A voice enrolled from one recording names the same voice in a second, different
recording (other sentences); a different voice is not named; another user's sessions
never match it; after deletion nothing matches.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tapeworks.sessions import service as sessions
from tapeworks.voices import service as voice_service
from tests.conftest import Api
from tests.helpers import speakers as sp
from tests.helpers.api import upload_ok, wait_status
from tests.helpers.paths import SPEECH_DIR
from tests.helpers.speakers import Recording

COACH = "en-us+Andy"
CLIENT_A = "en-029+f4"
CLIENT_B = "en-gb+m7"
STRANGER = "en-gb-scotland+f2"


def _talk(name: str, lines: list[tuple[str, int]]) -> Recording:
    return sp.join(name, [(voice, sp.speak(sp.SENTENCES[i], voice)) for voice, i in lines])


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Recording]]:
    folder = tmp_path_factory.mktemp("voice-profiles")
    recs = {
        # the coach with one client, then (other sentences) with another client
        "first": _talk("first", [(COACH, 0), (CLIENT_A, 1), (COACH, 2), (CLIENT_A, 3),
                                 (COACH, 4), (CLIENT_A, 5)]),
        "second": _talk("second", [(CLIENT_B, 6), (COACH, 7), (CLIENT_B, 8), (COACH, 9),
                                   (CLIENT_B, 10), (COACH, 11)]),
        "stranger": _talk("stranger", [(STRANGER, 2), (STRANGER, 7), (STRANGER, 10)]),
        "coach_alone": _talk("coach alone", [(COACH, 3), (COACH, 8), (COACH, 5)]),
    }
    return {k: (r.write(folder / f"{k}.wav"), r) for k, r in recs.items()}


@pytest.fixture
def worker_api(db_url: str, make_api: Callable[..., Api]) -> Api:
    return make_api(db_url, workers=2, job_heartbeat_seconds=0.5, job_lease_seconds=30)


def _transcribed(api: Api, headers: dict[str, str], path: Path, **data: Any) -> dict[str, Any]:
    sid = upload_ok(api.client, headers, path, **data)
    st = wait_status(api.client, headers, sid, timeout=180, fail=True)
    assert st["status"] == "completed", st
    return _transcript(api, headers, sid) | {"session_id": sid}


def _transcript(api: Api, headers: dict[str, str], sid: str) -> dict[str, Any]:
    r = api.client.get(f"/api/v1/sessions/{sid}/transcript", headers=headers)
    assert r.status_code == 200, r.text
    return dict(r.json())


def _speaker_of(t: dict[str, Any], rec: Recording, voice: str) -> str:
    """Our speaker id that labels most of the words inside `voice`'s turns."""
    votes: Counter[str] = Counter()
    for seg in t["segments"]:
        for w in seg["words"]:
            mid = (w["start"] + w["end"]) / 2
            if any(turn.speaker == voice and turn.start <= mid <= turn.end for turn in rec.turns):
                votes[w["speaker"]] += 1
    assert votes, f"no words inside {voice}'s turns"
    return votes.most_common(1)[0][0]


def _speaker(t: dict[str, Any], sid: str) -> dict[str, Any]:
    return next(s for s in t["speakers"] if s["id"] == sid)


def test_enroll_recognise_roles_other_users_and_delete(worker_api: Api, files) -> None:
    api = worker_api
    alice = api.create_user("alice@example.com", plan="pro")
    bob = api.create_user("bob@example.com", plan="pro")
    first_path, first = files["first"]
    t1 = _transcribed(api, alice, first_path, speakers="2")
    coach_sid = _speaker_of(t1, first, COACH)
    assert len(t1["speakers"]) == 2
    assert all(s.get("voice_id") is None for s in t1["speakers"])  # no voices yet

    # enrolling the coach names that speaker of the first session at once
    r = api.client.post("/api/v1/voices", headers=alice, json={
        "session_id": t1["session_id"], "speaker_id": coach_sid, "name": "Dana Whitfield",
        "role": "coach"})
    assert r.status_code == 201, r.text
    voice = r.json()
    assert (voice["name"], voice["role"], voice["sample_count"]) == ("Dana Whitfield", "coach", 1)
    assert "embedding" not in voice
    again = _transcript(api, alice, t1["session_id"])
    assert again["version"] == t1["version"] + 1
    me = _speaker(again, coach_sid)
    assert (me["name"], me["role"], me["voice_id"]) == ("Dana Whitfield", "coach", voice["id"])
    other = next(s for s in again["speakers"] if s["id"] != coach_sid)
    assert (other["role"], other["role_inferred"]) == ("client", True)

    # a second, different recording of the same voice: named, with its role and score;
    # the other speaker is the client, marked as inferred
    second_path, second = files["second"]
    t2 = _transcribed(api, alice, second_path)
    assert len(t2["speakers"]) == 2, t2["speakers"]
    coach2 = _speaker(t2, _speaker_of(t2, second, COACH))
    assert (coach2["name"], coach2["role"], coach2["voice_id"]) == (
        "Dana Whitfield", "coach", voice["id"])
    assert voice_service.MATCH_THRESHOLD <= coach2["match_score"] <= 1.0
    assert coach2["role_inferred"] is False
    client2 = _speaker(t2, _speaker_of(t2, second, CLIENT_B))
    assert client2["voice_id"] is None and client2["match_score"] is None
    assert (client2["role"], client2["role_inferred"]) == ("client", True)
    assert client2["name"] != "Dana Whitfield"

    # a different voice is not named
    stranger = _transcribed(api, alice, files["stranger"][0])
    assert [(s["voice_id"], s["role"], s["name"]) for s in stranger["speakers"]] == [
        (None, None, "Speaker 1")]

    # another user's sessions never match it, and cannot be enrolled from or into
    theirs = _transcribed(api, bob, files["coach_alone"][0])
    assert all(s["voice_id"] is None and s["role"] is None for s in theirs["speakers"])
    assert api.client.get("/api/v1/voices", headers=bob).json() == []
    assert api.client.get(f"/api/v1/voices/{voice['id']}", headers=bob).status_code == 404
    r = api.client.post(f"/api/v1/voices/{voice['id']}/samples", headers=bob,
                        json={"session_id": theirs["session_id"], "speaker_id": "S1"})
    assert r.status_code == 404
    r = api.client.post("/api/v1/voices", headers=bob, json={
        "session_id": t1["session_id"], "speaker_id": coach_sid, "name": "stolen"})
    assert r.status_code == 404, r.text

    # the same voice in alice's own single-voice recording is named too
    alone = _transcribed(api, alice, files["coach_alone"][0], speakers="1")
    assert alone["speakers"][0]["voice_id"] == voice["id"]

    # deleting the voice removes its embeddings: nothing matches after
    assert api.client.delete(f"/api/v1/voices/{voice['id']}", headers=alice).status_code == 204
    assert api.client.get("/api/v1/voices", headers=alice).json() == []
    with api.runtime.database.transaction(write=False) as db:
        from sqlalchemy import func, select

        from tapeworks.voices.models import Voice, VoiceSample
        assert db.scalar(select(func.count()).select_from(VoiceSample)) == 0
        assert db.scalar(select(func.count()).select_from(Voice)) == 0
    after = _transcribed(api, alice, second_path)
    assert all(s["voice_id"] is None and s["role"] is None for s in after["speakers"])


def test_samples_apply_rename_export_and_refusals(worker_api: Api, files) -> None:
    api = worker_api
    alice = api.create_user("alice@example.com", plan="pro")
    first_path, first = files["first"]
    second_path, second = files["second"]
    t1 = _transcribed(api, alice, first_path, speakers="2")
    t2 = _transcribed(api, alice, second_path, speakers="2")
    coach1 = _speaker_of(t1, first, COACH)
    coach2 = _speaker_of(t2, second, COACH)

    # refusals name the problem in the user's words
    bad = api.client.post("/api/v1/voices", headers=alice, json={
        "session_id": t1["session_id"], "speaker_id": "S9", "name": "Nobody"})
    assert bad.status_code == 409 and "S9" in bad.json()["error"]["message"]
    bad = api.client.post("/api/v1/voices", headers=alice, json={
        "session_id": t1["session_id"], "speaker_id": coach1, "name": "  "})
    assert bad.status_code == 422 and "name" in bad.json()["error"]["message"]
    bad = api.client.post("/api/v1/voices", headers=alice, json={
        "session_id": t1["session_id"], "speaker_id": coach1, "name": "X", "role": "boss"})
    assert bad.status_code == 422
    assert api.client.post("/api/v1/voices", headers=alice, json={
        "session_id": "nope", "speaker_id": "S1", "name": "X"}).status_code == 404

    # "this is me" on the first session (named after the account), then applied to the
    # earlier second session
    r = api.client.post("/api/v1/voices", headers=alice, json={
        "session_id": t1["session_id"], "speaker_id": coach1, "is_me": True, "role": "coach"})
    assert r.status_code == 201, r.text
    voice = r.json()
    assert voice["is_me"] and voice["name"] == "alice"
    twice = api.client.post("/api/v1/voices", headers=alice, json={
        "session_id": t2["session_id"], "speaker_id": coach2, "is_me": True})
    assert twice.status_code == 409 and twice.json()["error"]["message"].startswith(
        "your own voice is already enrolled")
    r = api.client.post(f"/api/v1/voices/{voice['id']}/apply", headers=alice)
    assert r.status_code == 200, r.text
    assert r.json()["sessions"] == [t2["session_id"]]
    labelled = _speaker(_transcript(api, alice, t2["session_id"]), coach2)
    assert labelled["voice_id"] == voice["id"] and labelled["name"] == "alice"
    assert api.client.post(f"/api/v1/voices/{voice['id']}/apply",
                           headers=alice).json()["sessions"] == []  # nothing new

    # a second sample strengthens the voice: its embedding is the weighted mean
    r = api.client.post(f"/api/v1/voices/{voice['id']}/samples", headers=alice,
                        json={"session_id": t2["session_id"], "speaker_id": coach2})
    assert r.status_code == 200, r.text
    assert r.json()["sample_count"] == 2
    assert {s["session_id"] for s in r.json()["samples"]} == {t1["session_id"], t2["session_id"]}
    with api.runtime.database.transaction(write=False) as db:
        e1, s1 = sessions.speaker_embeddings(db, t1["session_id"])[coach1]
        e2, s2 = sessions.speaker_embeddings(db, t2["session_id"])[coach2]
        from tapeworks.voices.models import Voice
        stored = sessions.decode_embedding(db.get(Voice, voice["id"]).embedding)
    mean = e1 * s1 + e2 * s2
    assert np.allclose(stored, mean / np.linalg.norm(mean), atol=1e-5)

    # rename and re-role
    r = api.client.patch(f"/api/v1/voices/{voice['id']}", headers=alice,
                         json={"name": "Alice Moreau", "role": "host"})
    assert (r.json()["name"], r.json()["role"]) == ("Alice Moreau", "host")

    # export: everything kept, embeddings included
    doc = api.client.get("/api/v1/voices/export", headers=alice).json()
    assert [v["name"] for v in doc["voices"]] == ["Alice Moreau"]
    assert len(doc["voices"][0]["embedding"]) == 256
    assert len(doc["voices"][0]["samples"]) == 2

    # the user setting a role by hand: no longer inferred
    other = next(s for s in _transcript(api, alice, t1["session_id"])["speakers"]
                 if s["id"] != coach1)
    assert other["role_inferred"] is True
    r = api.client.patch(f"/api/v1/sessions/{t1['session_id']}/speakers", headers=alice,
                         json={"speakers": [{"id": other["id"], "role": "client"}]})
    assert r.status_code == 200, r.text
    assert _speaker(r.json(), other["id"])["role_inferred"] is False


def test_enrolling_works_after_retention_purged_the_audio(worker_api: Api, files) -> None:
    api = worker_api
    alice = api.create_user("alice@example.com", plan="pro")
    t1 = _transcribed(api, alice, files["first"][0], speakers="2")
    with api.runtime.database.transaction() as db:
        from tapeworks.db.base import utcnow
        from tapeworks.sessions.models import RecordingSession
        row = db.get(RecordingSession, t1["session_id"])
        api.runtime.store.delete(row.source_key)
        row.source_purged_at = utcnow()
    coach = _speaker_of(t1, files["first"][1], COACH)
    r = api.client.post("/api/v1/voices", headers=alice, json={
        "session_id": t1["session_id"], "speaker_id": coach, "name": "Dana"})
    assert r.status_code == 201, r.text


def test_real_voices_do_not_match_each_other() -> None:
    """JFK against the two callers of sample.wav (real speech): all below the threshold;
    each caller's first half against its second half: above it."""
    from tapeworks.audio.decode import SPEECH_RATE, read_all
    from tapeworks.audio.vad import Region
    from tapeworks.speech.diarization import SpeakerEmbedder
    from tapeworks.speech.scoring import read_stm

    def embed(samples: np.ndarray) -> np.ndarray:
        e = SpeakerEmbedder()
        e.add(samples, 0.0, [Region(0.0, len(samples) / SPEECH_RATE)])
        e.speaker_labels(1, 1)
        assert e.centroids is not None
        return e.centroids[0]

    call = read_all(SPEECH_DIR / "sample.wav")
    by_speaker: dict[str, list[np.ndarray]] = {}
    for turn in read_stm(SPEECH_DIR / "sample.stm"):
        if turn.end - turn.start >= 1.5:
            by_speaker.setdefault(turn.speaker, []).append(
                call[int(turn.start * SPEECH_RATE): int(turn.end * SPEECH_RATE)])
    jfk = embed(sp.jfk(SPEECH_DIR).samples)
    for name, parts in by_speaker.items():
        half = len(parts) // 2
        a, b = embed(np.concatenate(parts[:half])), embed(np.concatenate(parts[half:]))
        assert float(a @ jfk) < voice_service.MATCH_THRESHOLD, name
        assert float(a @ b) >= voice_service.MATCH_THRESHOLD, name
        print(name, "halves", round(float(a @ b), 3), "vs jfk", round(float(a @ jfk), 3))
    callers = [embed(np.concatenate(p)) for p in by_speaker.values()]
    assert float(callers[0] @ callers[1]) < voice_service.MATCH_THRESHOLD


def test_vocabulary_refusals_and_defaults(api: Api) -> None:
    """Fast checks of the vocabulary's edges (the names themselves: test_vocabulary.py)."""
    user = api.create_user("v@example.com", plan="pro")
    wav = SPEECH_DIR / "jfk.flac"
    too_many = ", ".join(f"term{i}" for i in range(101))
    r = api.client.put("/api/v1/auth/me/vocabulary", headers=user, json={"terms": too_many})
    assert r.status_code == 422 and "101 terms" in r.json()["error"]["message"]
    from tests.helpers.api import upload
    r = upload(api.client, user, wav, vocabulary=too_many)
    assert r.status_code == 422 and "at most 100" in r.json()["error"]["message"]
    r = upload(api.client, user, wav, vocabulary="x" * 61)
    assert r.status_code == 422 and "longer than 60" in r.json()["error"]["message"]
    assert api.client.put("/api/v1/auth/me/vocabulary", headers=user,
                          json={"terms": ["Aoife", " Aoife ", "Nakagawa"]}).json() == {
        "terms": ["Aoife", "Nakagawa"]}
    sid = upload(api.client, user, wav).json()["id"]
    assert api.client.get(f"/api/v1/sessions/{sid}", headers=user).json()["vocabulary"] == [
        "Aoife", "Nakagawa"]
    sid = upload(api.client, user, wav, vocabulary="Ljubljana").json()["id"]
    assert api.client.get(f"/api/v1/sessions/{sid}", headers=user).json()["vocabulary"] == [
        "Ljubljana"]
    assert api.client.put("/api/v1/auth/me/vocabulary", headers=user,
                          json={"terms": ""}).json() == {"terms": []}


def test_a_multitrack_speaker_is_enrolled_and_recognised(worker_api: Api, files,
                                                         tmp_path: Path) -> None:
    """Each track of a multitrack session is one speaker whose voice is kept: the coach's
    track enrolled names the coach in a later single-file recording."""
    api = worker_api
    alice = api.create_user("alice@example.com", plan="pro")
    coach = sp.join("coach", [(COACH, sp.speak(sp.SENTENCES[i], COACH)) for i in (0, 2, 4)])
    client = sp.join("client", [(CLIENT_A, sp.speak(sp.SENTENCES[i], CLIENT_A)) for i in (1, 3)])
    paths = [coach.write(tmp_path / "coach.wav"), client.write(tmp_path / "client.wav")]
    handles = [open(p, "rb") for p in paths]  # noqa: SIM115 - closed below
    try:
        r = api.client.post("/api/v1/sessions", headers=alice,
                            data={"track_names": ["Dana", "Robin"], "title": "two tracks"},
                            files=[("file", (p.name, fh, "audio/wav"))
                                   for p, fh in zip(paths, handles, strict=True)])
    finally:
        for fh in handles:
            fh.close()
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    wait_status(api.client, alice, sid, timeout=180, fail=True)
    with api.runtime.database.transaction(write=False) as db:
        kept = sessions.speaker_embeddings(db, sid)
    assert sorted(kept) == ["S1", "S2"]
    r = api.client.post("/api/v1/voices", headers=alice, json={
        "session_id": sid, "speaker_id": "S1", "name": "Dana", "role": "coach"})
    assert r.status_code == 201, r.text
    later = _transcribed(api, alice, files["coach_alone"][0], speakers="1")
    assert (later["speakers"][0]["name"], later["speakers"][0]["role"]) == ("Dana", "coach")
