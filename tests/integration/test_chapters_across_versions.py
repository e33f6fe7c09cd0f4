"""Chapters are kept on later versions by mapping through the edit lists (issue 13's
decision): set in the episode time of version 1, they follow the conversation into
version 2 (a cut restored before a chapter moves it later by the cut's length, a cut
added before it moves it earlier, a chapter inside a removed span moves to the cut
point), in the chapters API, the feed's chapters file and the new MP3's ID3 chapters.
Real uploads, real consumers, real renders, SQLite and PostgreSQL."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from mutagen.id3 import ID3

from tests.conftest import Api
from tests.helpers.api import upload, wait_status
from tests.helpers.audio import write_spaced_bursts

SETTINGS = {"loudness": {"enabled": False}, "render": {"format": "mp3"}}
SHOW = {"title": "Show", "language": "en", "category": "Technology"}


@pytest.fixture
def ep_api(db_url: str, make_api: Callable[..., Api]) -> Api:
    return make_api(db_url, workers=2, public_url="https://pod.example.org")


def _wait(api: Api, user: dict[str, str], eid: str) -> dict[str, Any]:
    st = wait_status(
        api.client, user, eid, ("completed", "failed", "cancelled"), what="episodes", timeout=120
    )
    assert st["status"] == "completed", st
    return api.client.get(f"/api/v1/episodes/{eid}", headers=user).json()


def _episode_time(cuts: list[dict[str, Any]], source: float) -> float:
    """Where a source instant outside every cut plays, from the edit list the API shows."""
    applied = [c for c in cuts if c["applied"]]
    assert not any(c["source_start"] < source < c["source_end"] for c in applied)
    return source - sum(c["seconds"] for c in applied if c["source_end"] <= source)


def _source_time(cuts: list[dict[str, Any]], episode: float) -> float:
    """The source instant an episode instant (not at a join) plays."""
    s = episode
    for c in sorted((c for c in cuts if c["applied"]), key=lambda c: c["source_start"]):
        if c["source_start"] <= s:
            s += c["seconds"]
    return s


def test_chapters_set_on_one_version_follow_the_cuts_of_the_next(ep_api: Api, tmp_path) -> None:
    api = ep_api
    user = api.create_user("pod@example.com", plan="pro")
    sid = upload(
        api.client, user, write_spaced_bursts(tmp_path / "b.wav"), title="Pilot", speakers="1"
    ).json()["id"]
    assert wait_status(api.client, user, sid)["status"] == "completed"
    words = [
        w
        for s in api.client.get(f"/api/v1/sessions/{sid}/transcript", headers=user).json()[
            "segments"
        ]
        for w in s["words"]
    ]
    eid = api.client.post(f"/api/v1/sessions/{sid}/episodes", headers=user, json=SETTINGS).json()[
        "id"
    ]
    assert _wait(api, user, eid)["version"] == 1
    cuts1 = api.client.get(f"/api/v1/episodes/{eid}/edit-list", headers=user).json()["cuts"]
    pauses = sorted(
        (c for c in cuts1 if c["kind"] == "pause" and c["applied"]), key=lambda c: c["source_start"]
    )
    assert len(pauses) >= 3
    restored = pauses[0]  # brought back in version 2
    # the word version 2 cuts: the first one after the restored pause and one more pause
    target = next(
        i
        for i, w in enumerate(words)
        if w["start"] > pauses[1]["source_end"] and i + 1 < len(words)
    )
    word = words[target]
    late = words[-1]  # after every change
    inside = word["start"] + 0.4 * (word["end"] - word["start"])  # inside the word's span
    after_restored = words[
        next(i for i, w in enumerate(words) if w["start"] > restored["source_end"])
    ]["start"]
    set_on_v1 = [
        {"start": 0.0, "title": "Opening"},
        {"start": round(_episode_time(cuts1, after_restored), 3), "title": "After restored"},
        {"start": round(_episode_time(cuts1, inside), 3), "title": "Cut away"},
        {
            "start": round(_episode_time(cuts1, late["start"]), 3),
            "title": "Last",
            "url": "https://example.org/last",
        },
    ]
    r = api.client.put(f"/api/v1/episodes/{eid}/chapters", headers=user, json=set_on_v1)
    assert r.status_code == 200, r.text
    show = api.client.post("/api/v1/shows", headers=user, json=SHOW).json()
    assert (
        api.client.post(
            f"/api/v1/episodes/{eid}/publish", headers=user, json={"show_id": show["id"]}
        ).status_code
        == 200
    )
    chapters_url = f"/media/episodes/{eid}/chapters.json"
    v1_file = api.client.get(chapters_url)
    assert [c["startTime"] for c in v1_file.json()["chapters"]] == [c["start"] for c in set_on_v1]

    # version 2: the first pause restored, the target word cut
    r = api.client.put(
        f"/api/v1/episodes/{eid}/cuts",
        headers=user,
        json={"restore": [restored["id"]], "add": [{"word_start": target, "word_end": target}]},
    )
    assert r.status_code == 202, r.text
    ep2 = _wait(api, user, eid)
    assert ep2["version"] == 2
    cuts2 = api.client.get(f"/api/v1/episodes/{eid}/edit-list", headers=user).json()["cuts"]
    user_cut = next(c for c in cuts2 if c["kind"] == "user" and c["applied"])
    assert user_cut["source_start"] <= inside <= user_cut["source_end"]

    expected = [
        0.0,
        # a cut restored before it: later by the cut's length
        set_on_v1[1]["start"] + restored["seconds"],
        # inside the span version 2 removes: at the cut point
        user_cut["episode_time"],
        # the same instant of the conversation as in version 1
        _episode_time(cuts2, _source_time(cuts1, set_on_v1[3]["start"])),
    ]
    assert expected[1] == pytest.approx(_episode_time(cuts2, after_restored), abs=0.002)
    titles = [c["title"] for c in set_on_v1]

    api_chapters = api.client.get(f"/api/v1/episodes/{eid}/chapters", headers=user).json()
    assert [c["title"] for c in api_chapters["chapters"]] == titles
    assert [c["start"] for c in api_chapters["chapters"]] == pytest.approx(expected, abs=0.003)
    assert api_chapters["chapters"][3]["url"] == "https://example.org/last"

    v2_file = api.client.get(chapters_url, headers={"If-None-Match": v1_file.headers["etag"]})
    assert v2_file.status_code == 200 and v2_file.headers["etag"] != v1_file.headers["etag"]
    starts = [c["startTime"] for c in v2_file.json()["chapters"]]
    assert starts == pytest.approx(expected, abs=0.003)

    audio = api.client.get(f"/api/v1/episodes/{eid}/audio", headers=user).content
    frames = sorted(ID3(io.BytesIO(audio)).getall("CHAP"), key=lambda f: f.start_time)
    assert [str(f.sub_frames["TIT2"]) for f in frames] == titles
    assert [f.start_time / 1000 for f in frames] == pytest.approx(expected, abs=0.004)
    # the first version's file stays as it was made (before the chapters were set)
    v1_audio = api.client.get(f"/api/v1/episodes/{eid}/audio?version=1", headers=user).content
    assert ID3(io.BytesIO(v1_audio)).getall("CHAP") == []

    # chapters set again now are in version 2's time, kept as given
    r = api.client.put(
        f"/api/v1/episodes/{eid}/chapters", headers=user, json=[{"start": 1.0, "title": "Only"}]
    )
    assert r.status_code == 200
    assert api.client.get(chapters_url).json()["chapters"] == [{"startTime": 1.0, "title": "Only"}]
