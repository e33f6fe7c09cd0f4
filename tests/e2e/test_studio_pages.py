"""Issue 16's pages in headless Chromium at 1280 px and 390 px, with axe: several tracks
uploaded as one recording with a speaker name each (and a track that is not audio
refusing the whole upload); one more track added from the session page before the
transcription starts (refused after); a speech asset made from text on the assets page, played
there; the episode page listing the edit-marker cut and the bleep with their reasons."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tapeworks.queue.models import Job
from tapeworks.sessions.models import RecordingSession
from tests.conftest import LiveServer
from tests.e2e.conftest import Site, sign_in
from tests.e2e.test_pages import jfk_with_pauses
from tests.helpers.api import upload_ok, wait_status
from tests.helpers.audio import write_bursts, write_text_as_mp3
from tests.helpers.pages import axe_violations, describe, shot, sideways_overflow, wait_until

pytestmark = pytest.mark.e2e

WIDTHS = (1280, 390)
HEIGHT = {1280: 900, 390: 844}


def check(page: Any, artifacts: Path, name: str, width: int) -> None:
    violations = axe_violations(page)
    assert not violations, f"axe on {name} at {width} px:\n{describe(violations)}"
    overflow = sideways_overflow(page)
    assert overflow <= 0, f"{name} scrolls sideways by {overflow} px at {width} px"
    shot(page, artifacts, f"studio-{name}-{width}")


def sessions_of(site: Site) -> int:
    with site.server.runtime.database.transaction(write=False) as db:
        return db.query(RecordingSession).count()


@pytest.mark.parametrize("width", WIDTHS)
def test_several_tracks_upload_as_one_recording_with_a_name_each(
    site: Site, new_page: Callable[..., Any], artifacts: Path, tmp_path: Path, width: int
) -> None:
    site.add_user("pod@example.com", plan="pro")
    ann = write_bursts(tmp_path / "ann.wav", [(0.3, 1.5), (4.0, 5.2)], total=6.0)
    bob = write_bursts(tmp_path / "bob_remote.wav", [(1.8, 3.4)], total=7.0)
    bad = write_text_as_mp3(tmp_path / "notes.mp3")
    page = new_page(width, HEIGHT[width])
    sign_in(page, site.url, "pod@example.com")
    page.get_by_text("One recording, one track per speaker").click()

    # a track that is not audio: the whole upload is refused, naming it; nothing is kept
    page.get_by_label("Track files (one per speaker)").set_input_files([str(ann), str(bad)])
    assert page.get_by_label("Speaker on track 1").input_value() == "ann"
    page.get_by_label("Speaker on track 2").fill("Notes")
    page.get_by_role("button", name="Upload the tracks").click()
    error = page.locator("#tracks-error")
    error.filter(has_text="Refused").wait_for()
    assert "track 2 (Notes)" in error.inner_text() and "nothing was kept" in error.inner_text()
    assert str(tmp_path) not in error.inner_text()
    assert sessions_of(site) == 0

    page.get_by_label("Track files (one per speaker)").set_input_files([str(ann), str(bob)])
    assert page.get_by_label("Speaker on track 2").input_value() == "bob remote"
    page.get_by_label("Speaker on track 1").fill("Ann")
    page.get_by_label("Speaker on track 2").fill("Bob")
    page.get_by_label("Starts after (seconds)").nth(1).fill("0.5")
    page.get_by_label("Title").first.fill("Two of us")
    assert error.inner_text() == ""
    check(page, artifacts, "library-tracks", width)
    page.get_by_role("button", name="Upload the tracks").click()
    link = page.locator("#tracks-status").get_by_role("link", name="Two of us")
    link.wait_for()
    page.locator("#tracks-status").filter(has_text="transcript ready").wait_for(timeout=60_000)

    sid = link.get_attribute("href").rsplit("/", 1)[1]
    headers = site.bearer("pod@example.com")
    s = site.server.client.get(f"/api/v1/sessions/{sid}", headers=headers).json()
    assert [(t["name"], t["offset_seconds"]) for t in s["tracks"]] == [("Ann", 0.0), ("Bob", 0.5)]
    assert s["duration_seconds"] == pytest.approx(7.5, abs=0.01)  # Bob's track, late
    t = site.server.client.get(f"/api/v1/sessions/{sid}/transcript", headers=headers).json()
    assert [(sp["id"], sp["name"]) for sp in t["speakers"]] == [("S1", "Ann"), ("S2", "Bob")]
    bob_words = [w for seg in t["segments"] for w in seg["words"] if w["speaker"] == "S2"]
    assert bob_words and all(w["start"] >= 2.2 and w["end"] <= 4.0 for w in bob_words), bob_words
    assert sessions_of(site) == 1


@pytest.mark.parametrize("width", WIDTHS)
def test_a_speech_asset_made_from_text_and_played_on_the_assets_page(
    site: Site, new_page: Callable[..., Any], artifacts: Path, width: int
) -> None:
    site.add_user("pod@example.com", plan="pro")
    page = new_page(width, HEIGHT[width])
    sign_in(page, site.url, "pod@example.com")
    page.goto(site.url + "/assets")
    narrator = page.get_by_label("Narrator")
    wait_until(page, "document.querySelectorAll('#speech-narrator option').length > 1")
    options = narrator.locator("option").all_inner_texts()
    assert any("Joe" in o and "the default" in o for o in options), options
    assert any(o.startswith("eSpeak") or "espeak" in o.lower() for o in options), options
    page.get_by_label("Name", exact=True).nth(1).fill("Spoken intro")
    page.get_by_label("Kind").nth(1).select_option("intro")
    page.get_by_label("Text to speak").fill("Welcome to the show. Today we talk about gardens.")
    assert "49 of 5,000" in page.locator("#speech-count").inner_text()
    check(page, artifacts, "assets-speech", width)
    page.get_by_role("button", name="Make the asset").click()

    row = page.locator(".asset-row", has_text="Spoken intro")
    row.wait_for()
    player = row.get_by_label("Play Spoken intro")
    player.wait_for(timeout=60_000)  # the row shows "Being spoken…" until the narrator is done
    assert "Spoken by Joe" in row.inner_text() and "Welcome to the show." in row.inner_text()
    duration = page.evaluate("""async () => {
        const a = document.querySelector('.asset-row audio');
        if (!(a.readyState >= 1)) await new Promise(r => a.addEventListener('loadedmetadata', r, {once: true}));
        a.muted = true;
        await a.play();
        await new Promise(r => setTimeout(r, 400));
        const t = a.currentTime;
        a.pause();
        return [a.duration, t];
    }""")
    assert 2.0 < duration[0] < 10.0 and duration[1] > 0.1, duration  # it plays
    check(page, artifacts, "assets-spoken", width)

    # an engine that cannot take the text: the form says why, nothing is made
    page.get_by_label("Narrator").select_option(index=0)
    page.get_by_label("Text to speak").fill("   ")
    page.get_by_role("button", name="Make the asset").click()
    page.locator("#speech-error").filter(has_text="empty").wait_for()
    assert page.locator(".asset-row").count() == 1


@pytest.mark.parametrize("width", WIDTHS)
def test_the_episode_page_lists_the_marker_cut_and_the_bleep_with_their_reasons(
    site: Site, new_page: Callable[..., Any], artifacts: Path, tmp_path: Path, width: int
) -> None:
    site.add_user("pod@example.com", plan="pro")
    client, headers = site.server.client, site.bearer("pod@example.com")
    sid = upload_ok(
        client, headers, jfk_with_pauses(tmp_path / "jfk.wav"), title="Ask not", speakers="1"
    )
    wait_status(client, headers, sid, timeout=90, fail=True)
    t = client.get(f"/api/v1/sessions/{sid}/transcript", headers=headers).json()
    segs = t["segments"]
    # the fake engine writes one "speech" per half second of voice, a segment between pauses
    # (4, 2 and 12 words here): the first segment's third word becomes the marker, the last
    # segment's second a word to bleep
    assert len(segs) == 3 and len(segs[0]["words"]) >= 4 and len(segs[2]["words"]) >= 4, segs
    r = client.post(
        f"/api/v1/sessions/{sid}/transcript/edits",
        headers=headers,
        json={
            "ops": [
                {
                    "op": "edit_word",
                    "segment_id": segs[0]["id"],
                    "word_index": 2,
                    "text": "flubber",
                },
                {"op": "edit_word", "segment_id": segs[2]["id"], "word_index": 1, "text": "darn!"},
            ]
        },
    )
    assert r.status_code == 200, r.text
    flubber = segs[0]["words"][2]
    r = client.post(
        f"/api/v1/sessions/{sid}/episodes",
        headers=headers,
        json={
            "title": "Bleeped",
            "cleaning": {
                "edit_marker": "flubber",
                "bleep_words": ["darn"],
                "remove_fillers": False,
                "shorten_pauses": False,
            },
        },
    )
    assert r.status_code == 201, r.text
    eid = r.json()["id"]
    wait_status(client, headers, eid, what="episodes", timeout=90, fail=True)

    page = new_page(width, HEIGHT[width])
    sign_in(page, site.url, "pod@example.com")
    page.goto(f"{site.url}/episodes/{eid}")
    marker = page.locator("#ep-cuts .cut", has=page.locator(".badge", has_text="edit marker"))
    marker.wait_for()
    assert "edit marker" in marker.locator(".cut-reason").inner_text()
    assert marker.locator(".cut-words").inner_text() == "“speech speech flubber”"
    assert marker.locator(".cut-reason").inner_text() == 'edit marker: "speech speech"'
    struck = page.locator("#ep-words .w.cut-out").all_inner_texts()
    assert struck == ["speech", "speech", "flubber"], struck
    assert flubber["end"] > flubber["start"]
    assert "edit marker" in page.locator("#ep-cuts-summary").inner_text()
    bleeps = page.locator("#ep-bleeps")
    assert bleeps.is_visible()
    assert "1 word was bleeped" in bleeps.inner_text() and "1 kHz tone" in bleeps.inner_text()
    item = bleeps.locator(".cut-bleep")
    assert item.count() == 1 and "darn" in item.locator(".cut-words").inner_text()
    assert item.get_by_role("button", name="Play bleep 1 in the episode").is_enabled()
    settings = page.locator("#ep-settings").inner_text()
    assert "“flubber”" in settings and "1 word, a tone" in settings, settings
    page.wait_for_load_state("networkidle")
    check(page, artifacts, "episode-marker-bleep", width)

    # restoring the marker cut brings the phrase back in a new version; the bleep stays
    marker.get_by_role("button", name="Restore").click()
    page.get_by_role("button", name="Make a new version").click()
    wait_until(
        page,
        "document.getElementById('cut-changes').hidden || "
        "document.getElementById('cut-error').textContent",
    )
    assert page.locator("#cut-error").inner_text() == ""
    wait_status(client, headers, eid, what="episodes", timeout=90, fail=True)
    edits = client.get(f"/api/v1/episodes/{eid}/edit-list", headers=headers).json()
    assert not [c for c in edits["cuts"] if c["kind"] == "marker" and c.get("applied", True)], edits
    assert len(edits["bleeps"]) == 1
    page.reload()
    page.locator("#ep-bleeps .cut-bleep").wait_for()
    assert page.locator("#ep-cuts .badge", has_text="edit marker").count() == 0
    assert page.locator("#ep-words .w.cut-out").count() == 0


@pytest.mark.parametrize("width", WIDTHS)
def test_a_track_added_on_the_session_page_before_the_transcription_starts(
    live_server: Callable[..., LiveServer],
    fresh_db_url: Callable[[str], str],
    new_page: Callable[..., Any],
    artifacts: Path,
    tmp_path: Path,
    width: int,
) -> None:
    site = Site(live_server(fresh_db_url("sqlite"), workers=0))  # the job stays queued
    site.add_user("pod@example.com", plan="pro")
    client, headers = site.server.client, site.bearer("pod@example.com")
    ann = write_bursts(tmp_path / "ann.wav", [(0.3, 1.5)], total=4.0)
    bob = write_bursts(tmp_path / "bob.wav", [(1.8, 3.4)], total=4.0)
    cat = write_bursts(tmp_path / "cat_late.wav", [(0.5, 2.0)], total=3.0)
    bad = write_text_as_mp3(tmp_path / "notes.mp3")
    with open(ann, "rb") as a, open(bob, "rb") as b:
        r = client.post(
            "/api/v1/sessions",
            headers=headers,
            data={"track_names": ["Ann", "Bob"], "title": "Talk"},
            files=[("file", ("ann.wav", a)), ("file", ("bob.wav", b))],
        )
    assert r.status_code == 201, r.text
    sid = r.json()["id"]

    page = new_page(width, HEIGHT[width])
    sign_in(page, site.url, "pod@example.com")
    page.goto(f"{site.url}/sessions/{sid}")
    assert page.locator("#track-list li").all_inner_texts()[0].startswith("Ann")
    assert page.locator("#track-list li").count() == 2
    check(page, artifacts, "session-add-track", width)

    # not audio: refused in the user's words, nothing added
    page.get_by_label("Track file").set_input_files(str(bad))
    page.get_by_label("Speaker on the new track").fill("Notes")
    page.get_by_role("button", name="Add the track").click()
    error = page.locator("#add-track-error")
    error.filter(has_text="Not added").wait_for()
    assert str(tmp_path) not in error.inner_text()
    assert client.get(f"/api/v1/sessions/{sid}", headers=headers).json()["track_count"] == 2

    page.get_by_label("Track file").set_input_files(str(cat))
    assert (
        page.get_by_label("Speaker on the new track").input_value() == "Notes"
    )  # a name typed stays
    page.get_by_label("Speaker on the new track").fill("Cat")
    page.get_by_label("Starts after (seconds)").fill("4")
    page.get_by_role("button", name="Add the track").click()
    page.locator("#track-list li").nth(2).wait_for()  # the page reloads with it listed
    assert "Cat" in page.locator("#track-list li").nth(2).inner_text()
    assert "starts after 4 s" in page.locator("#track-list li").nth(2).inner_text()
    s = client.get(f"/api/v1/sessions/{sid}", headers=headers).json()
    assert [(t["name"], t["offset_seconds"]) for t in s["tracks"]] == [
        ("Ann", 0.0),
        ("Bob", 0.0),
        ("Cat", 4.0),
    ]
    assert s["duration_seconds"] == pytest.approx(7.0, abs=0.01)

    # the transcription starts: the page says why the track cannot join, and drops the form
    with site.server.runtime.database.transaction() as db:
        job = db.get(Job, db.get(RecordingSession, sid).current_job_id)
        job.status = "running"
    page.get_by_label("Track file").set_input_files(str(ann))
    page.get_by_label("Speaker on the new track").fill("Dan")
    page.get_by_role("button", name="Add the track").click()
    error.filter(has_text="before its transcription starts").wait_for()
    assert client.get(f"/api/v1/sessions/{sid}", headers=headers).json()["track_count"] == 3
    page.reload()
    page.locator("#track-list li").nth(2).wait_for()
    assert page.locator("#add-track-form").count() == 0
