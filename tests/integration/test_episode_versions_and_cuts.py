"""Episode versions and the cut API (issue 11), over the API on SQLite and PostgreSQL with
real uploads, real consumers and real renders: every render is a new version, the
previous audio stays downloadable while a new one is made, restoring a cut brings back
exactly the source audio of that span, an added cut removes exactly the selected words."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tapeworks.audio.decode import decode_blocks
from tests.conftest import Api
from tests.helpers.api import upload, wait_status
from tests.helpers.audio import decode_bytes as decode
from tests.helpers.audio import write_spaced_bursts

RATE = 44100
SETTINGS = {"loudness": {"enabled": False}, "render": {"format": "wav", "sample_rate": RATE}}


@pytest.fixture
def ep_api(db_url: str, make_api: Callable[..., Api]) -> Api:
    return make_api(db_url, workers=2)


def _wait(api: Api, user: dict[str, str], eid: str) -> dict[str, Any]:
    st = wait_status(api.client, user, eid, ("completed", "failed", "cancelled"), what="episodes",
                     timeout=120)
    assert st["status"] == "completed", st
    return api.client.get(f"/api/v1/episodes/{eid}", headers=user).json()


def _source(path: Path) -> np.ndarray:
    return np.concatenate(list(decode_blocks(path, RATE, 1, RATE)), axis=1)[0]


def _best_match(episode: np.ndarray, source: np.ndarray, at: float, lo: float, hi: float
                ) -> float:
    """The largest sample difference between source [lo, hi) and the episode at the best
    lag within +-10 ms of where the edit list says it is (`at`: the episode time of `lo`)."""
    ref = source[int(lo * RATE):int(hi * RATE)]
    start = int(at * RATE)
    best = np.inf
    for lag in range(-441, 442):
        a = start + lag
        if a < 0 or a + ref.size > episode.size:
            continue
        best = min(best, float(np.max(np.abs(episode[a:a + ref.size] - ref))))
    return best


def test_restore_a_cut_and_add_one_each_a_new_version(ep_api: Api, tmp_path: Path) -> None:
    api = ep_api
    user = api.create_user("pod@example.com", plan="pro")
    src_path = write_spaced_bursts(tmp_path / "bursts.wav")
    sid = upload(api.client, user, src_path, title="Pilot", speakers="1").json()["id"]
    assert wait_status(api.client, user, sid)["status"] == "completed"
    source = _source(src_path)
    words = [w for s in api.client.get(f"/api/v1/sessions/{sid}/transcript", headers=user).json()["segments"]
             for w in s["words"]]
    assert len(words) >= 3

    r = api.client.post(f"/api/v1/sessions/{sid}/episodes", headers=user, json=SETTINGS)
    assert r.status_code == 201, r.text
    eid = r.json()["id"]
    ep1 = _wait(api, user, eid)
    assert ep1["version"] == 1
    v1_audio = api.client.get(f"/api/v1/episodes/{eid}/audio", headers=user).content
    edits1 = api.client.get(f"/api/v1/episodes/{eid}/edit-list", headers=user).json()
    pauses = [c for c in edits1["cuts"] if c["kind"] == "pause" and c["applied"]]
    assert len(pauses) >= 3 and all(c["id"] for c in pauses)
    assert len({c["id"] for c in edits1["cuts"]}) == len(edits1["cuts"])  # stable, distinct ids
    cut = pauses[1]  # one between two bursts, far from the others

    # restore it: a new version; the first stays served while the second is made
    r = api.client.put(f"/api/v1/episodes/{eid}/cuts", headers=user, json={"restore": [cut["id"]]})
    assert r.status_code == 202, r.text
    assert r.json()["status"] in ("queued", "processing", "completed")
    assert r.json()["cuts_settings"]["restore"] == [cut["id"]]
    if r.json()["status"] != "completed":
        again = api.client.put(f"/api/v1/episodes/{eid}/cuts", headers=user, json={"restore": []})
        assert again.status_code == 409 and "being made" in again.json()["error"]["message"]
        during = api.client.get(f"/api/v1/episodes/{eid}/audio", headers=user)
        assert during.status_code == 200 and during.content == v1_audio
    ep2 = _wait(api, user, eid)
    assert ep2["version"] == 2
    assert ep2["duration_seconds"] == pytest.approx(ep1["duration_seconds"] + cut["seconds"], abs=0.01)
    versions = api.client.get(f"/api/v1/episodes/{eid}/versions", headers=user).json()
    assert versions["current_version"] == 2
    assert [(v["version"], v["status"], v["current"]) for v in versions["versions"]] == [
        (2, "completed", True), (1, "completed", False)]
    old = api.client.get(f"/api/v1/episodes/{eid}/audio?version=1", headers=user)
    assert old.status_code == 200 and old.content == v1_audio
    assert "version 1" in old.headers["content-disposition"]
    keys = [o.key for o in api.runtime.store.list("")]
    assert any(f"/episodes/{eid}/v1/" in k for k in keys) and any(f"/episodes/{eid}/v2/" in k for k in keys)

    edits2 = api.client.get(f"/api/v1/episodes/{eid}/edit-list", headers=user).json()
    assert cut["id"] not in {c["id"] for c in edits2["cuts"]}
    assert len([c for c in edits2["cuts"] if c["applied"]]) == len([c for c in edits1["cuts"] if c["applied"]]) - 1
    # the restored span, with 0.3 s of the bursts' audio either side, is the source itself
    ep2_samples = decode(api.client.get(f"/api/v1/episodes/{eid}/audio", headers=user).content)[0][:, 0]
    before = [c for c in edits2["cuts"] if c["applied"] and c["source_end"] <= cut["source_start"]]
    removed = sum(c["seconds"] for c in before)
    lo, hi = cut["source_start"] - 0.3, cut["source_end"] + 0.3
    assert all(c["source_end"] < lo - 0.05 for c in before)
    assert _best_match(ep2_samples, source, lo - removed, lo, hi) <= 2.0 / 32768  # 16-bit WAV
    # and in the first version that span was gone (the check can tell)
    ep1_samples = decode(v1_audio)[0][:, 0]
    assert _best_match(ep1_samples, source, lo - removed, lo, hi) > 0.01

    # add a cut of one word by its index: exactly that word leaves the episode
    target = 1
    r = api.client.put(f"/api/v1/episodes/{eid}/cuts", headers=user, json={
        "restore": [cut["id"]], "add": [{"word_start": target, "word_end": target}]})
    assert r.status_code == 202, r.text
    ep3 = _wait(api, user, eid)
    assert ep3["version"] == 3
    edits3 = api.client.get(f"/api/v1/episodes/{eid}/edit-list", headers=user).json()
    user_cuts = [c for c in edits3["cuts"] if c["kind"] == "user"]
    assert len(user_cuts) == 1 and user_cuts[0]["applied"]
    uc = user_cuts[0]
    w = words[target]
    assert uc["source_start"] <= w["start"] and uc["source_end"] >= w["end"]
    assert uc["source_start"] >= words[target - 1]["end"] and uc["source_end"] <= words[target + 1]["start"]
    t3 = api.client.get(f"/api/v1/episodes/{eid}/transcript", headers=user).json()
    assert [x["text"] for s in t3["segments"] for x in s["words"]] == [
        x["text"] for i, x in enumerate(words) if i != target]
    assert api.client.get(f"/api/v1/episodes/{eid}", headers=user).json()["cuts_settings"]["add"] == [
        {"word_start": target, "word_end": target}]

    # a retry of a completed episode is a new version too; every version stays listed
    r = api.client.post(f"/api/v1/episodes/{eid}/retry", headers=user)
    assert r.status_code == 200, r.text
    assert _wait(api, user, eid)["version"] == 4
    listed = api.client.get(f"/api/v1/episodes/{eid}/versions", headers=user).json()["versions"]
    assert [v["version"] for v in listed] == [4, 3, 2, 1]
    assert all(api.client.get(f"/api/v1/episodes/{eid}/audio?version={v}", headers=user).status_code == 200
               for v in (1, 2, 3, 4))

    # refusals in the user's words
    bad = api.client.put(f"/api/v1/episodes/{eid}/cuts", headers=user,
                         json={"add": [{"word_start": 5000, "word_end": 5001}]})
    assert bad.status_code == 422 and "words" in bad.json()["error"]["message"]
    bad = api.client.put(f"/api/v1/episodes/{eid}/cuts", headers=user, json={"add": [{"start": 3}]})
    assert bad.status_code == 422
    assert api.client.get(f"/api/v1/episodes/{eid}/audio?version=9", headers=user).status_code == 404
    other = api.create_user("other@example.com")
    assert api.client.get(f"/api/v1/episodes/{eid}/versions", headers=other).status_code == 404
    assert api.client.put(f"/api/v1/episodes/{eid}/cuts", headers=other, json={}).status_code == 404
