"""Publishing from the episode page in headless Chromium: publish a finished episode in a
show, edit it, schedule it, unpublish it, and set its chapters; the public feed follows
each step; the page passes axe at 1280 and 390 px without sideways scrolling."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from lxml import etree

from tests.e2e.conftest import Site, sign_in
from tests.helpers.api import upload_ok, wait_status
from tests.helpers.pages import axe_violations, describe, shot, sideways_overflow
from tests.helpers.paths import SPEECH_DIR

pytestmark = pytest.mark.e2e
NS = {"podcast": "https://podcastindex.org/namespace/1.0",
      "itunes": "http://www.itunes.com/dtds/podcast-1.0.dtd"}


def _items(url: str) -> list[Any]:
    r = httpx.get(url)
    assert r.status_code == 200, r.text
    return etree.fromstring(r.content).findall("channel/item")


def test_publish_schedule_unpublish_and_chapters_from_the_episode_page(
        site: Site, new_page: Callable[..., Any], artifacts: Path) -> None:
    site.add_user("pod@example.com", plan="pro")
    headers = site.bearer("pod@example.com")
    client = site.server.client
    sid = upload_ok(client, headers, SPEECH_DIR / "jfk.flac", title="Ask not")
    wait_status(client, headers, sid, timeout=90, fail=True)
    r = client.post(f"/api/v1/sessions/{sid}/episodes", headers=headers, json={"title": "Ask not"})
    assert r.status_code == 201, r.text
    eid = r.json()["id"]
    wait_status(client, headers, eid, what="episodes", timeout=120, fail=True)
    show = client.post("/api/v1/shows", headers=headers, json={
        "title": "The Speeches", "language": "en", "category": "History"}).json()
    feed = show["feed_url"]

    page = new_page()
    sign_in(page, site.url, "pod@example.com")
    page.goto(f"{site.url}/episodes/{eid}")
    page.get_by_text("Not published.").wait_for()
    page.get_by_label("Title in the feed").fill("Ask not <what> & why")
    page.get_by_label("Show notes").fill("<p>The inaugural address.<script>x()</script></p>")
    page.get_by_label("Episode number").fill("1")
    page.get_by_role("button", name="Publish").click()
    page.get_by_text("Published in The Speeches").wait_for()
    items = _items(feed)
    assert [i.findtext("title") for i in items] == ["Ask not <what> & why"]
    guid = items[0].findtext("guid")
    assert items[0].findtext("itunes:episode", namespaces=NS) == "1"
    assert "<script>" not in items[0].findtext("description")

    # an edit keeps the one item and its guid
    page.get_by_label("Title in the feed").fill("Ask not, edited")
    page.get_by_role("button", name="Save changes").click()
    page.get_by_text("Published in The Speeches").wait_for()
    page.wait_for_function("() => !document.getElementById('pub-error').textContent")
    items = _items(feed)
    assert [(i.findtext("title"), i.findtext("guid")) for i in items] == [("Ask not, edited", guid)]

    # chapters: a bad time is named on the form, good ones reach the feed's chapters file
    page.get_by_role("button", name="Add a chapter").click()
    page.locator(".chapter-start").nth(0).fill("0:00")
    page.locator(".chapter-title").nth(0).fill("Opening")
    page.get_by_role("button", name="Add a chapter").click()
    page.locator(".chapter-start").nth(1).fill("half past")
    page.locator(".chapter-title").nth(1).fill("The ask")
    page.get_by_role("button", name="Save chapters").click()
    assert "Chapter 2" in page.locator("#chapters-error").inner_text()
    page.locator(".chapter-start").nth(1).fill("0:05")
    page.get_by_role("button", name="Save chapters").click()
    page.get_by_text("Chapters saved.").wait_for()
    chapters_url = _items(feed)[0].find("podcast:chapters", NS).get("url")
    doc = httpx.get(chapters_url).json()
    assert [(c["startTime"], c["title"]) for c in doc["chapters"]] == [(0.0, "Opening"),
                                                                        (5.0, "The ask")]

    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.locator("#ep-publish").scroll_into_view_if_needed()
        violations = axe_violations(page)
        assert not violations, describe(violations)
        overflow = sideways_overflow(page)
        assert overflow <= 0, f"the episode page scrolls sideways by {overflow} px at {width} px"
        shot(page, artifacts, f"episode-publish-{width}")
    page.set_viewport_size({"width": 1280, "height": 900})

    # scheduling for later takes it out of the feed until then
    page.get_by_label("Publish at (optional)").fill("2099-01-01T09:00")
    page.get_by_role("button", name="Save changes").click()
    page.get_by_text("Scheduled in The Speeches").wait_for()
    assert _items(feed) == []
    assert httpx.get(f"{site.url}/media/episodes/{eid}/v1/audio.mp3").status_code == 404

    page.get_by_role("button", name="Unpublish").click()
    page.get_by_text("Not published (it was before").wait_for()
    page.get_by_label("Publish at (optional)").fill("")
    page.get_by_role("button", name="Publish").click()
    page.get_by_text("Published in The Speeches").wait_for()
    items = _items(feed)
    assert [i.findtext("guid") for i in items] == [guid]  # its place in podcast apps is kept
    enclosure = items[0].find("enclosure")
    audio = httpx.get(enclosure.get("url"))
    assert audio.status_code == 200 and len(audio.content) == int(enclosure.get("length"))
