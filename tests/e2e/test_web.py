"""The web app in a real headless Chromium against a real server (issue 7)."""

from __future__ import annotations

import itertools
import re
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tapeworks.transcripts.parsers import parse_srt
from tests.e2e.conftest import PASSWORD, Site, sign_in
from tests.helpers.api import upload_ok, wait_status
from tests.helpers.pages import wait_until
from tests.helpers.paths import SPEECH_DIR

pytestmark = pytest.mark.e2e

JFK = SPEECH_DIR / "jfk.flac"


def shot(page: Any, artifacts: Path, name: str) -> None:
    page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)


def jfk_with_long_pauses(path: Path) -> Path:
    """jfk.flac with two 2.5 s silences inserted: pauses the episode must shorten."""
    import av
    import numpy as np

    with av.open(str(JFK)) as container:
        resampler = av.AudioResampler(format="s16", layout="mono", rate=16000)
        chunks = [f.to_ndarray().reshape(-1) for frame in container.decode(audio=0)
                  for f in resampler.resample(frame)]
    pcm = np.concatenate(chunks).astype(np.int16)
    gap = np.zeros(int(2.5 * 16000), dtype=np.int16)
    at1, at2 = int(2.9 * 16000), int(6.9 * 16000)
    out = np.concatenate([pcm[:at1], gap, pcm[at1:at2], gap, pcm[at2:]])
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(out.tobytes())
    return path


def test_first_admin_setup_then_sign_out(site: Site, new_page: Callable[..., Any]) -> None:
    page = new_page()
    page.goto(site.url + "/")
    page.wait_for_url(re.compile(r"/setup$"))
    # without the one-time link printed by `serve`, the first visitor is not the admin
    assert page.get_by_role("heading", name="Setup needs its link").is_visible()
    assert page.locator("form[action='/setup']").count() == 0
    page.goto(site.setup_url())
    page.get_by_label("Email").fill("admin@example.com")
    page.locator("#password").fill(PASSWORD)
    page.get_by_label("Password again").fill(PASSWORD)
    page.get_by_role("button", name="Create administrator").click()
    page.wait_for_url(site.url + "/")
    assert page.get_by_role("heading", name="Library").is_visible()
    cookie = next(c for c in page.context.cookies() if c["name"] == "tw_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    # setup is closed once an account exists (signed in: on to the library)
    page.goto(site.url + "/setup")
    page.wait_for_url(site.url + "/")
    page.get_by_role("button", name=re.compile("Sign out")).click()
    page.wait_for_url(re.compile(r"/login$"))
    # the signed-out token is revoked: the old cookie no longer opens pages
    page.context.add_cookies([cookie])
    page.goto(site.url + "/")
    page.wait_for_url(re.compile(r"/login\?next=/$"))


def test_upload_follow_read_edit_and_export(site: Site, new_page: Callable[..., Any],
                                            artifacts: Path, tmp_path: Path) -> None:
    site.add_user("alice@example.com", plan="pro")
    page = new_page()
    sign_in(page, site.url, "alice@example.com")

    # upload: the user says one person speaks; byte progress, then live job progress
    page.select_option("#upload-speakers", "1")
    page.fill("#upload-language", "en")
    page.set_input_files("#file-input", str(JFK))
    item = page.locator(".upload-item").first
    item.locator("a.upload-name").wait_for()  # the upload was accepted: a link to the session
    shot(page, artifacts, "upload-progress")
    item.locator(".js-badge", has_text="completed").wait_for(timeout=60_000)
    item.get_by_text("Transcript ready").wait_for()
    sid = item.get_attribute("data-session-id")
    assert sid

    # the library lists it as completed, with its duration
    page.goto(site.url + "/")
    row = page.locator(f'.session-row[data-session-id="{sid}"]')
    assert row.locator(".js-badge").inner_text().lower() == "completed"
    assert "0:11" in row.inner_text()
    shot(page, artifacts, "library")
    page.goto(site.url + "/?q=speech")
    assert page.locator(f'.session-row[data-session-id="{sid}"]').count() == 1
    page.goto(site.url + "/?q=nothing-like-this")
    assert page.get_by_text("No recordings match this search.").is_visible()

    # session page: transcript text beside the player
    page.goto(f"{site.url}/sessions/{sid}")
    transcript = page.locator("#transcript")
    transcript.locator(".w").first.wait_for()
    assert "speech" in transcript.inner_text()
    assert page.locator("#speakers-form .speaker-row").count() == 1  # as chosen on upload
    wait_until(page, "document.getElementById('player').readyState >= 1")

    # clicking a word seeks the player to the word's start
    word = transcript.locator(".w").nth(4)
    start = float(word.get_attribute("data-start") or "nan")
    word.click()
    current = page.evaluate("document.getElementById('player').currentTime")
    assert abs(current - start) <= 0.05, (current, start)
    assert "now" in (word.get_attribute("class") or "")

    # keyboard: j goes back 5 s; k plays and pauses (not while typing)
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("j")
    assert abs(page.evaluate("document.getElementById('player').currentTime") - max(0, start - 5)) < 0.05
    page.keyboard.press("k")
    wait_until(page, "!document.getElementById('player').paused")
    page.keyboard.press("k")
    wait_until(page, "document.getElementById('player').paused")

    # rename a speaker and set a role; it persists after a reload
    page.locator("#sp-name-0").fill("John F. Kennedy")
    page.locator("#sp-role-0").select_option("host")
    page.get_by_role("button", name="Save speakers").click()
    transcript.locator(".seg-speaker", has_text="John F. Kennedy (host)").first.wait_for()
    page.reload()
    transcript.locator(".w").first.wait_for()
    assert page.locator("#sp-name-0").input_value() == "John F. Kennedy"
    assert page.locator("#sp-role-0").input_value() == "host"
    assert "John F. Kennedy (host)" in transcript.locator(".seg-speaker").first.inner_text()

    # edit a segment's text; the page re-renders from the returned transcript
    first = transcript.locator(".segment").first
    first.get_by_role("button", name=re.compile("Edit the segment")).click()
    first.get_by_label("Segment text").fill("And so my fellow Americans")
    first.get_by_role("button", name="Save").click()
    transcript.get_by_text("And so my fellow Americans").wait_for()
    page.reload()
    transcript.get_by_text("And so my fellow Americans").wait_for()
    shot(page, artifacts, "session")

    # export SRT: a download that parses, with the new name and text
    with page.expect_download() as dl:
        page.locator("#export-srt").click()
    path = dl.value.path()
    assert dl.value.suggested_filename.endswith(".srt")
    text = Path(path).read_text(encoding="utf-8")
    cues = parse_srt(text, speakers=["John F. Kennedy"])
    assert cues, text
    assert all(c.end > c.start for c in cues)
    assert all(a.start <= b.start for a, b in itertools.pairwise(cues))
    assert "And so my fellow Americans" in " ".join(c.text for c in cues)  # long cues are split
    assert all(c.speaker == "John F. Kennedy" for c in cues)
    # the plan's formats are offered (pro: docx too)
    assert page.locator("#export-docx").count() == 1

    # phone width
    phone = new_page(375, 812)
    sign_in(phone, site.url, "alice@example.com")
    shot(phone, artifacts, "library-375")
    phone.goto(f"{site.url}/sessions/{sid}")
    phone.locator("#transcript .w").first.wait_for()
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"the session page scrolls sideways at 375 px ({width} px wide)"
    shot(phone, artifacts, "session-375")

    # the episode page: the real thing when the episodes API exists, else a clear state
    episode_page(site, page, sid, artifacts, tmp_path)


def episode_page(site: Site, page: Any, sid: str, artifacts: Path, tmp_path: Path) -> None:
    """Produce an episode from a recording with long pauses; see the cuts, play one."""
    headers = site.bearer("alice@example.com")
    gapped = upload_ok(site.server.client, headers, jfk_with_long_pauses(tmp_path / "jfk-gapped.wav"),
                       title="JFK with long pauses")
    wait_status(site.server.client, headers, gapped, timeout=60, fail=True)
    page.goto(f"{site.url}/sessions/{gapped}")
    page.get_by_role("button", name="Produce episode").click()
    page.wait_for_url(re.compile(r"/episodes/[^/]+$"))
    page.locator("#ep-badge", has_text="completed").wait_for(timeout=60_000)
    wait_until(page, "document.getElementById('ep-player').getAttribute('src')")
    summary = page.locator("#ep-cuts-summary")
    wait_until(page, "!/Loading/.test(document.getElementById('ep-cuts-summary').textContent)")
    rows = page.locator("#ep-cuts .cut")
    assert rows.count() >= 2, summary.inner_text()
    assert re.search(r"\d+ cuts removed", summary.inner_text())
    assert "pause" in rows.first.inner_text()
    wait_until(page, "document.getElementById('ep-player').readyState >= 1")
    rows.first.get_by_role("button", name=re.compile("After")).click()
    wait_until(page, "!document.getElementById('ep-player').paused")
    rows.first.get_by_role("button", name=re.compile("Before")).click()
    wait_until(page, "!document.getElementById('src-player').paused")
    wait_until(page, "document.getElementById('ep-player').paused")
    assert page.locator("#ep-download-audio").count() == 1
    assert page.locator("#ep-download-srt").count() == 1
    shot(page, artifacts, "episode")
    episode_url = page.url
    other = page.context.browser.new_context()
    try:
        site.add_user("mallory@example.com", plan="pro")
        p2 = other.new_page()
        sign_in(p2, site.url, "mallory@example.com")
        response = p2.goto(episode_url)
        assert response is not None and response.status == 404
    finally:
        other.close()


def test_refused_files_get_clear_messages_before_and_after_sending(
        live_server: Callable[..., Any], fresh_db_url: Callable[[str], str],
        new_page: Callable[..., Any], tmp_path: Path) -> None:
    # a 1 MB upload ceiling, so jfk.flac (1.1 MB) is refused before sending
    site = Site(live_server(fresh_db_url("sqlite"), workers=0, max_upload_bytes=1_000_000))
    site.add_user("carol@example.com")
    page = new_page()
    sign_in(page, site.url, "carol@example.com")
    notes = tmp_path / "notes.txt"
    notes.write_text("not audio at all\n" * 50)
    fake = tmp_path / "talk.mp3"
    fake.write_text("this is text pretending to be an mp3\n" * 200)

    # format and size are checked before sending; the content is probed by the server
    page.set_input_files("#file-input", [str(notes), str(JFK), str(fake)])
    refused = page.locator(".upload-item.refused")
    refused.nth(2).wait_for()
    messages = [refused.nth(i).inner_text() for i in range(3)]
    assert "notes.txt is not an audio file we accept" in messages[0]
    assert "your plan allows 976.6 KB per file" in messages[1], messages[1]
    assert "Refused:" in messages[2] and "not an audio file" in messages[2], messages[2]

    # drag and drop goes through the same checks
    page.evaluate("""() => {
        const dt = new DataTransfer();
        dt.items.add(new File(["%PDF-1.4"], "slides.pdf", {type: "application/pdf"}));
        document.getElementById("dropzone").dispatchEvent(
            new DragEvent("drop", {dataTransfer: dt, bubbles: true, cancelable: true}));
    }""")
    refused.nth(3).wait_for()
    assert "slides.pdf is not an audio file we accept" in refused.nth(3).inner_text()
    page.goto(site.url + "/")
    assert page.get_by_text("No recordings yet").is_visible()  # nothing was created


def test_another_users_session_page_is_404(site: Site, new_page: Callable[..., Any]) -> None:
    site.add_user("alice@example.com")
    site.add_user("bob@example.com")
    sid = upload_ok(site.server.client, site.bearer("alice@example.com"), JFK,
                    title="Private recording")
    page = new_page()
    sign_in(page, site.url, "bob@example.com")
    response = page.goto(f"{site.url}/sessions/{sid}")
    assert response is not None and response.status == 404
    assert page.get_by_role("heading", name="Not found").is_visible()
    assert "Private recording" not in page.content()
    # and the API behind the page agrees
    api = page.request.get(f"{site.url}/api/v1/sessions/{sid}")
    assert api.status == 404


def test_csrf_and_api_tokens(site: Site, new_page: Callable[..., Any], artifacts: Path) -> None:
    site.add_user("dave@example.com")
    page = new_page()
    # a sign-in form post without the token is refused
    r = page.request.post(f"{site.url}/login",
                          form={"email": "dave@example.com", "password": PASSWORD})
    assert r.status == 403
    # a wrong password: POST, then redirect to the form with the message (a reload re-sends nothing)
    page.goto(site.url + "/login")
    page.get_by_label("Email").fill("dave@example.com")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    page.locator("#login-error").wait_for()
    assert page.get_by_label("Email").input_value() == "dave@example.com"
    page.reload()
    assert page.locator("#login-error").count() == 0
    sign_in(page, site.url, "dave@example.com")

    # account page: create a token (shown once), it works as a Bearer token, then revoke it
    page.goto(site.url + "/account")
    assert page.get_by_text(re.compile("Transcription this month")).is_visible()
    page.get_by_label("Token name").fill("laptop script")
    page.get_by_role("button", name="Create token").click()
    token = page.locator("#new-token").input_value()
    shot(page, artifacts, "account")
    assert token.startswith("tw_")
    me = httpx.get(f"{site.url}/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["email"] == "dave@example.com"
    # the form posted, then redirected: a reload neither creates a second token nor shows it
    assert page.url.startswith(site.url + "/account")
    page.reload()
    assert page.locator("#new-token").count() == 0  # never shown again
    assert page.locator(".token-row", has_text="laptop script").count() == 1
    page.get_by_role("button", name=re.compile("Revoke laptop script")).click()
    page.wait_for_url(re.compile(r"/account"))
    me = httpx.get(f"{site.url}/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 401

    # a form post with the cookie but without the CSRF field is refused
    r = page.request.post(f"{site.url}/account/tokens", form={"name": "forged"})
    assert r.status == 403
    page.goto(site.url + "/account")
    assert page.get_by_text("forged").count() == 0

    # cookie-authenticated API calls: unsafe methods need the X-CSRF-Token header
    csrf = page.locator('meta[name="csrf-token"]').get_attribute("content")
    url = f"{site.url}/api/v1/sessions/nope/speakers"
    body = {"speakers": [{"id": "S1", "name": "x"}]}
    refused = page.request.patch(url, data=body)
    assert refused.status == 403
    assert "X-CSRF-Token" in refused.json()["error"]["message"]
    wrong = page.request.patch(url, data=body, headers={"X-CSRF-Token": "0" * 64})
    assert wrong.status == 403
    ok = page.request.patch(url, data=body, headers={"X-CSRF-Token": csrf or ""})
    assert ok.status == 404  # past the CSRF check: the session does not exist
    assert page.request.get(f"{site.url}/api/v1/auth/me").status == 200  # reads need no header
    # Bearer clients are unaffected (no cookie involved)
    bearer = httpx.patch(url, json=body, headers=site.bearer("dave@example.com"))
    assert bearer.status_code == 404
