"""Share links in headless Chromium: the owner makes a link on the session page, a listener
without an account opens it (transcript beside the player, speakers named, a time plays
from there), it reaches no other session, and revoking it makes it 404 at once; the page
passes axe at 1280 and 390 px without sideways scrolling."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tapeworks.sessions import service as sessions
from tapeworks.sessions.models import RecordingSession
from tests.e2e.conftest import Site, sign_in
from tests.helpers.api import upload_ok, wait_status
from tests.helpers.pages import axe_violations, describe, shot, sideways_overflow, wait_until
from tests.helpers.paths import SPEECH_DIR
from tests.helpers.transcripts import make_transcript

pytestmark = pytest.mark.e2e


def test_a_share_link_works_signed_out_and_stops_when_revoked(
        site: Site, new_page: Callable[..., Any], artifacts: Path) -> None:
    site.add_user("coach@example.com")
    headers = site.bearer("coach@example.com")
    client = site.server.client
    sid = upload_ok(client, headers, SPEECH_DIR / "jfk.flac", title="Session with Ben")
    other = upload_ok(client, headers, SPEECH_DIR / "jfk.flac", title="Someone else's session")
    wait_status(client, headers, sid, timeout=90, fail=True)
    rt = site.server.runtime
    with rt.database.transaction() as db:  # the owner's corrected transcript: two named voices
        s = db.get(RecordingSession, sid)
        t = make_transcript().model_copy(update={"version": s.transcript_version + 1})
        s.transcript_key = sessions.write_transcript(rt, s.user_id, sid, t)
        s.transcript_version = t.version

    owner = new_page()
    sign_in(owner, site.url, "coach@example.com")
    owner.goto(f"{site.url}/sessions/{sid}")
    owner.get_by_label("Allow downloading the recording").uncheck()
    owner.get_by_role("button", name="Create link").click()
    url_box = owner.locator("#share-url")
    url_box.wait_for()
    url = url_box.input_value()
    assert url.startswith(f"{site.url}/s/") and len(url.rsplit("/", 1)[1]) >= 40
    owner.locator("#share-list .share-active").wait_for()

    for width in (1280, 390):
        listener = new_page(width=width, height=900)  # its own context: no cookie
        response = listener.goto(url)
        assert response.status == 200
        assert listener.get_by_role("heading", name="Session with Ben").is_visible()
        transcript = listener.locator("#share-transcript")
        assert "Anna:" in transcript.inner_text() and "Ben:" in transcript.inner_text()
        assert "Thanks for having me here today." in transcript.inner_text()
        assert listener.locator("#player").get_attribute("controlslist") == "nodownload"
        assert listener.locator("#download").count() == 0
        assert "Someone else" not in listener.content()
        violations = axe_violations(listener)
        assert not violations, describe(violations)
        overflow = sideways_overflow(listener)
        assert overflow <= 0, f"the share page scrolls sideways by {overflow} px at {width} px"
        shot(listener, artifacts, f"share-{width}")
    # a time plays the recording from there (the second segment's start)
    second = listener.locator("#share-transcript button.seg-time").nth(1)
    start = float(second.get_attribute("data-start"))
    assert start > 1
    second.click()
    wait_until(listener, f"document.getElementById('player').currentTime >= {start - 0.01}")
    listener.locator(".share-segment.is-playing").first.wait_for()
    # nothing else is reachable from the listener's browser
    assert listener.request.get(f"{site.url}/api/v1/sessions/{other}").status == 401
    assert listener.request.get(f"{site.url}/api/v1/sessions").status == 401
    assert listener.goto(f"{site.url}/sessions/{other}").url.startswith(f"{site.url}/login")

    owner.get_by_role("button", name="Revoke").click()
    owner.locator("#share-list .share-revoked").wait_for()
    assert listener.goto(url).status == 404
    assert httpx.get(url + "/audio").status_code == 404
