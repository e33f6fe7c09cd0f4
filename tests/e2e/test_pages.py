"""Issue 11's pages in a real headless Chromium at 1280 px and 390 px: axe-core on every
page, no sideways scrolling on a phone, screenshots of every page, the phone layout, the
library updating itself, find, word-level editing, templates and assets, and the main flow
(upload, rename a speaker, edit a word, undo, export, produce, restore a cut) with the
keyboard only."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tapeworks.audio.decode import read_all, write_wav
from tests.e2e.conftest import Site, sign_in
from tests.helpers import audio
from tests.helpers.api import upload_ok, wait_status
from tests.helpers.pages import (
    axe_violations,
    describe,
    shot,
    sideways_overflow,
    wait_until,
)
from tests.helpers.paths import JFK
from tests.helpers.spliced import JFK_ISSUE_SPLICES, splice_silences

pytestmark = pytest.mark.e2e

WIDTHS = (1280, 390)
HEIGHT = {1280: 900, 390: 844}


def jfk_with_pauses(path: Path) -> Path:
    """The issue's case: jfk.flac with 3.0 s and 2.5 s of silence spliced in between words."""
    write_wav(path, splice_silences(read_all(JFK), JFK_ISSUE_SPLICES).samples)
    return path


@dataclass
class Made:
    session_id: str
    episode_id: str
    asset_id: str
    template_id: str


def make_things(site: Site, email: str, tmp_path: Path) -> Made:
    """A transcribed session, a finished episode with cuts, an asset and a template using it."""
    client = site.server.client
    headers = site.bearer(email)
    sid = upload_ok(client, headers, jfk_with_pauses(tmp_path / "jfk-pauses.wav"), title="Ask not",
                    speakers="1")
    wait_status(client, headers, sid, timeout=90, fail=True)
    r = client.post(f"/api/v1/sessions/{sid}/episodes", headers=headers, json={"title": "Episode one"})
    assert r.status_code == 201, r.text
    eid = r.json()["id"]
    wait_status(client, headers, eid, what="episodes", timeout=90, fail=True)
    tone = audio.write_tone(tmp_path / "chime.wav", seconds=2.0)
    with open(tone, "rb") as fh:
        r = client.post("/api/v1/assets", headers=headers, files={"file": ("chime.wav", fh)},
                        data={"name": "Chime", "kind": "intro"})
    assert r.status_code == 201, r.text
    aid = r.json()["id"]
    r = client.post("/api/v1/templates", headers=headers, json={"name": "Weekly show", "intro_asset_id": aid})
    assert r.status_code == 201, r.text
    return Made(sid, eid, aid, r.json()["id"])


READY = {"/sessions/": "#transcript .w", "/episodes/": "#ep-cuts .cut", "/assets": ".asset-row",
         "/templates": ".template-row"}


def settle(page: Any, path: str) -> None:
    """Wait until what the page's JavaScript loads is on screen."""
    page.wait_for_load_state("networkidle")
    for prefix, selector in READY.items():
        if path.startswith(prefix) and page.locator("main .card").count() and \
                not page.locator(".error-page").count():
            page.locator(selector).first.wait_for()
    page.wait_for_timeout(300)


def check_page(page: Any, artifacts: Path, name: str, width: int) -> None:
    violations = axe_violations(page)
    assert not violations, f"axe on {name} at {width} px:\n{describe(violations)}"
    overflow = sideways_overflow(page)
    assert overflow <= 0, f"{name} scrolls sideways by {overflow} px at {width} px"
    shot(page, artifacts, f"{name}-{width}")


@pytest.mark.parametrize("width", WIDTHS)
def test_every_page_is_axe_clean_fits_the_screen_and_is_photographed(
        site: Site, new_page: Callable[..., Any], artifacts: Path, tmp_path: Path, width: int) -> None:
    out = artifacts / "pages"
    out.mkdir(exist_ok=True)
    page = new_page(width, HEIGHT[width])
    page.goto(site.url + "/setup")  # no account yet, and no setup link: the page says so
    check_page(page, out, "setup-closed", width)
    page.goto(site.setup_url())  # the first-run page, from the link `serve` printed
    check_page(page, out, "setup", width)
    site.add_user("alice@example.com", plan="pro")
    page.goto(site.url + "/login")
    check_page(page, out, "login", width)
    page.get_by_label("Email").fill("alice@example.com")
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Sign in").click()
    page.locator("#login-error").wait_for()
    check_page(page, out, "login-error", width)
    made = make_things(site, "alice@example.com", tmp_path)
    sign_in(page, site.url, "alice@example.com")
    pages = {
        "library": "/", "session": f"/sessions/{made.session_id}",
        "episode": f"/episodes/{made.episode_id}", "templates": "/templates", "assets": "/assets",
        "account": "/account", "shows": "/shows", "not-found": "/no-such-page",
        "session-not-found": "/sessions/nope",
    }
    for name, path in pages.items():
        page.goto(site.url + path)
        settle(page, path)
        check_page(page, out, name, width)
    # the parts a page opens: the versions list, a segment editor, the in-use warning
    page.goto(f"{site.url}/sessions/{made.session_id}")
    settle(page, "/sessions/")
    if width < 900:
        for tab in ("Speakers", "Export", "Episode"):
            page.get_by_role("tab", name=tab).click()
            check_page(page, out, f"session-tab-{tab.lower()}", width)
        page.get_by_role("tab", name="Transcript").click()
    page.get_by_role("button", name="Versions").click()
    page.locator("#version-list li").first.wait_for()
    page.locator(".seg-edit").first.click()
    page.locator(".seg-editor textarea").wait_for()
    check_page(page, out, "session-editing", width)
    page.goto(site.url + "/assets")
    settle(page, "/assets")
    page.locator(".asset-row", has_text="Chime").get_by_role("button", name=re.compile("Delete")).click()
    page.locator(".in-use").wait_for()
    check_page(page, out, "assets-in-use", width)
    page.goto(site.url + "/account")
    page.get_by_label("Token name").fill("laptop script")
    page.get_by_role("button", name="Create token").click()
    page.locator("#new-token").wait_for()
    check_page(page, out, "account-new-token", width)


def test_on_a_phone_player_speakers_export_and_episode_are_reachable_without_the_transcript(
        site: Site, new_page: Callable[..., Any], artifacts: Path, tmp_path: Path) -> None:
    site.add_user("alice@example.com", plan="pro")
    made = make_things(site, "alice@example.com", tmp_path)
    page = new_page(390, 844)
    sign_in(page, site.url, "alice@example.com")
    page.goto(f"{site.url}/sessions/{made.session_id}")
    settle(page, "/sessions/")
    player = page.locator("#player").bounding_box()
    tabs = page.get_by_role("tablist").bounding_box()
    assert player and tabs and tabs["y"] + tabs["height"] <= 844, (player, tabs)
    for tab, target in (("Speakers", "#save-speakers"), ("Export", "#export-srt"),
                        ("Episode", "#ep-title-input")):
        page.get_by_role("tab", name=tab).click()
        box = page.locator(target).bounding_box()
        assert box is not None and box["y"] + box["height"] <= 844, f"{tab}: {target} at {box}"
        assert not page.locator("#transcript").is_visible()  # one part at a time
    page.get_by_role("tab", name="Transcript").click()
    assert page.locator("#transcript").is_visible()
    # the player and the tabs stay on screen while a long transcript scrolls
    headers = site.bearer("alice@example.com")
    long_path = tmp_path / "jfk-five-times.wav"
    write_wav(long_path, np.tile(read_all(JFK), 5))
    long_sid = upload_ok(site.server.client, headers, long_path, title="five times")
    wait_status(site.server.client, headers, long_sid, timeout=120, fail=True)
    page.goto(f"{site.url}/sessions/{long_sid}")
    settle(page, "/sessions/")
    page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
    page.wait_for_timeout(200)
    assert page.evaluate("window.scrollY") > 100  # the page did scroll
    box = page.locator("#player").bounding_box()
    assert box is not None and 0 <= box["y"] < 100, box
    shot(page, artifacts, "session-phone-scrolled", full_page=False)
    # the episode page: status, player and downloads come before the cuts and the transcript
    page.goto(f"{site.url}/episodes/{made.episode_id}")
    settle(page, "/episodes/")
    ys = {sel: (page.locator(sel).bounding_box() or {"y": 1e9})["y"]
          for sel in ("#ep-badge", "#ep-player", "#ep-download-audio", "#ep-cuts", "#ep-words")}
    assert ys["#ep-badge"] < ys["#ep-player"] < ys["#ep-download-audio"] < ys["#ep-cuts"] < ys["#ep-words"], ys
    assert sideways_overflow(page) <= 0


def test_the_library_updates_itself_when_an_upload_is_done(
        site: Site, new_page: Callable[..., Any], artifacts: Path) -> None:
    site.add_user("alice@example.com")
    page = new_page()
    sign_in(page, site.url, "alice@example.com")
    assert page.locator("#recording-count").inner_text() == "0 recordings"
    page.evaluate("window.__sameDocument = true")
    page.set_input_files("#file-input", str(JFK))
    row = page.locator("#session-list .session-row").first
    row.wait_for()
    assert page.locator("#recording-count").inner_text() == "1 recording"
    assert "jfk" in row.inner_text()
    row.locator(".js-badge", has_text="completed").wait_for(timeout=60_000)
    assert not row.locator(".progress-block").is_visible()
    assert page.evaluate("window.__sameDocument === true")  # no reload happened
    shot(page, artifacts, "library-updated")


def test_find_highlights_matches_and_steps_through_them(
        site: Site, new_page: Callable[..., Any], tmp_path: Path) -> None:
    site.add_user("alice@example.com", plan="pro")
    headers = site.bearer("alice@example.com")
    sid = upload_ok(site.server.client, headers, JFK, title="jfk")
    wait_status(site.server.client, headers, sid, timeout=60, fail=True)
    page = new_page()
    sign_in(page, site.url, "alice@example.com")
    page.goto(f"{site.url}/sessions/{sid}")
    settle(page, "/sessions/")
    total = page.locator("#transcript .w").count()
    page.get_by_label("Find in the transcript").fill("speech")
    assert page.locator("#find-count").inner_text() == f"1 of {total}"
    assert page.locator(".w.match-current").count() == 1
    assert page.locator(".w.match").count() == total - 1
    page.keyboard.press("Enter")
    assert page.locator("#find-count").inner_text() == f"2 of {total}"
    assert page.locator("#transcript .w").nth(1).get_attribute("class") == "w match-current"
    page.get_by_role("button", name="Previous").click()
    assert page.locator("#find-count").inner_text() == f"1 of {total}"
    page.get_by_label("Find in the transcript").fill("speech speech")  # a phrase over two words
    assert page.locator(".w.match-current").count() == 2
    page.get_by_label("Find in the transcript").fill("nothing like this")
    assert page.locator("#find-count").inner_text() == "No matches"
    assert page.locator(".w.match, .w.match-current").count() == 0


def test_words_split_merge_speakers_and_delete_from_the_page(
        site: Site, new_page: Callable[..., Any], tmp_path: Path) -> None:
    site.add_user("alice@example.com", plan="pro")
    headers = site.bearer("alice@example.com")
    sid = upload_ok(site.server.client, headers, JFK, title="jfk", speakers="1")
    wait_status(site.server.client, headers, sid, timeout=60, fail=True)

    def server() -> dict[str, Any]:
        body: dict[str, Any] = site.server.client.get(f"/api/v1/sessions/{sid}/transcript",
                                                      headers=headers).json()
        return body

    before = server()
    page = new_page()
    sign_in(page, site.url, "alice@example.com")
    page.goto(f"{site.url}/sessions/{sid}")
    settle(page, "/sessions/")
    # one header per turn: one speaker, one header, however many segments
    assert page.locator(".turn").count() == 1 and page.locator(".turn-head").count() == 1
    # edit one word: only that word changes, its timing kept
    word = page.locator("#transcript .w").nth(2)
    word.dblclick()
    page.locator(".word-input").fill("ask")
    page.keyboard.press("Enter")
    page.locator("#toast", has_text="Word changed.").wait_for()
    after = server()
    old_words = [w for s in before["segments"] for w in s["words"]]
    new_words = [w for s in after["segments"] for w in s["words"]]
    assert [w["text"] for w in new_words] == ["ask" if i == 2 else w["text"] for i, w in enumerate(old_words)]
    assert [(w["start"], w["end"]) for w in new_words] == [(w["start"], w["end"]) for w in old_words]
    # split before a word (S), the segments double and the header stays one
    n_segments = len(after["segments"])
    page.locator("#transcript .w").nth(4).focus()
    page.keyboard.press("s")
    wait_until(page, f"document.querySelectorAll('.segment').length === {n_segments + 1}")
    assert page.locator(".turn-head").count() == 1
    # add a speaker and give them the second segment: a second turn with its own header
    page.get_by_label("Name", exact=True).fill("Jackie")
    page.get_by_role("button", name="Add speaker").click()
    page.locator("#speakers-form input[value='Jackie']").wait_for()
    second = page.locator(".segment").nth(1)
    second.get_by_role("button", name=re.compile("Edit the segment")).click()
    second.get_by_label("Speaker", exact=True).select_option(label="Jackie")
    second.get_by_role("button", name="Save").click()
    page.locator(".turn-head", has_text="Jackie").wait_for()
    assert page.locator(".turn-head").count() >= 2
    # merge the first segment with the next, then delete a segment
    count = page.locator(".segment").count()
    page.locator(".segment").first.get_by_role("button", name=re.compile("Edit the segment")).click()
    page.get_by_role("button", name="Merge with the next segment").click()
    wait_until(page, f"document.querySelectorAll('.segment').length === {count - 1}")
    page.once("dialog", lambda d: d.accept())
    page.locator(".segment").last.get_by_role("button", name=re.compile("Edit the segment")).click()
    page.get_by_role("button", name="Delete segment").click()
    wait_until(page, f"document.querySelectorAll('.segment').length === {count - 2}")
    assert len(server()["segments"]) == count - 2


def test_rename_and_delete_a_recording_and_an_episode_in_the_pages(
        site: Site, new_page: Callable[..., Any], tmp_path: Path) -> None:
    site.add_user("alice@example.com", plan="pro")
    made = make_things(site, "alice@example.com", tmp_path)
    headers = site.bearer("alice@example.com")
    page = new_page()
    sign_in(page, site.url, "alice@example.com")
    page.goto(f"{site.url}/episodes/{made.episode_id}")
    settle(page, "/episodes/")
    page.get_by_role("button", name="Rename").click()
    page.get_by_label("New title").fill("The ask-not episode")
    page.get_by_role("button", name="Save title").click()
    page.get_by_role("heading", name="The ask-not episode").wait_for()
    ep = site.server.client.get(f"/api/v1/episodes/{made.episode_id}", headers=headers).json()
    assert ep["title"] == "The ask-not episode"
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name="Delete").click()
    page.wait_for_url(re.compile(f"/sessions/{made.session_id}$"))
    assert site.server.client.get(f"/api/v1/episodes/{made.episode_id}", headers=headers).status_code == 404
    page.get_by_role("button", name="Rename").click()
    page.get_by_label("New title").fill("Inaugural address")
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Inaugural address").wait_for()
    page.reload()
    assert page.get_by_role("heading", name="Inaugural address").is_visible()
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name="Delete").click()
    page.wait_for_url(site.url + "/")
    page.get_by_text("“Inaugural address” was deleted.").wait_for()
    assert page.locator("#recording-count").inner_text() == "0 recordings"


def test_templates_show_and_edit_their_assets_and_an_asset_in_use_asks_first(
        site: Site, new_page: Callable[..., Any], tmp_path: Path, artifacts: Path) -> None:
    site.add_user("alice@example.com", plan="pro")
    made = make_things(site, "alice@example.com", tmp_path)
    headers = site.bearer("alice@example.com")
    page = new_page()
    sign_in(page, site.url, "alice@example.com")
    page.goto(site.url + "/templates")
    row = page.locator(".template-row", has_text="Weekly show")
    row.wait_for()
    assert "Intro: Chime (0:02)" in row.inner_text()
    row.get_by_role("button", name=re.compile("Edit")).click()
    assert page.get_by_label("Name").input_value() == "Weekly show"
    page.get_by_label("Name").fill("Weekly show (new)")
    page.get_by_label("Outro", exact=True).select_option(label="Chime (intro)")
    page.get_by_role("button", name="Save changes").click()
    row = page.locator(".template-row", has_text="Weekly show (new)")
    row.wait_for()
    assert "Outro: Chime" in row.inner_text()
    tpl = site.server.client.get(f"/api/v1/templates/{made.template_id}", headers=headers).json()
    assert tpl["name"] == "Weekly show (new)" and tpl["outro_asset_id"] == made.asset_id

    page.goto(site.url + "/assets")
    asset = page.locator(".asset-row", has_text="Chime")
    asset.wait_for()
    assert "Used by Weekly show (new)" in asset.inner_text()
    player = asset.locator("audio")
    box = player.bounding_box()
    assert box and box["width"] >= 250 and box["height"] >= 30, box  # a player you can see
    wait_until(page, "document.querySelector('.asset-row audio').readyState >= 1")
    asset.get_by_role("button", name=re.compile("Delete")).click()
    warning = asset.locator(".in-use")
    warning.wait_for()
    assert "Weekly show (new)" in warning.inner_text()
    shot(page, artifacts, "asset-in-use")
    warning.get_by_role("button", name="Keep it").click()
    assert site.server.client.get(f"/api/v1/assets/{made.asset_id}", headers=headers).status_code == 200
    asset.get_by_role("button", name=re.compile("Delete")).click()
    asset.get_by_role("button", name="Remove from templates and delete").click()
    page.get_by_text("No assets yet.").wait_for()
    assert site.server.client.get(f"/api/v1/assets/{made.asset_id}", headers=headers).status_code == 404
    tpl = site.server.client.get(f"/api/v1/templates/{made.template_id}", headers=headers).json()
    assert tpl["intro_asset_id"] is None and tpl["outro_asset_id"] is None


def test_a_shortcut_key_after_clicking_text_draws_no_frame_around_the_page(
        site: Site, new_page: Callable[..., Any], tmp_path: Path) -> None:
    site.add_user("alice@example.com", plan="pro")
    headers = site.bearer("alice@example.com")
    sid = upload_ok(site.server.client, headers, JFK, title="jfk")
    wait_status(site.server.client, headers, sid, timeout=60, fail=True)
    page = new_page()
    sign_in(page, site.url, "alice@example.com")
    page.goto(f"{site.url}/sessions/{sid}")
    settle(page, "/sessions/")
    page.locator(".page-head .muted").click()  # plain text
    page.keyboard.press("k")
    wait_until(page, "!document.getElementById('player').paused")
    page.keyboard.press("k")
    style = page.evaluate("""() => { const e = document.activeElement; const s = getComputedStyle(e);
        return {tag: e.tagName, outline: s.outlineStyle, shadow: s.boxShadow}; }""")
    assert style["outline"] == "none" and style["shadow"] == "none", style


def test_time_buttons_are_named_by_what_they_show(
        site: Site, new_page: Callable[..., Any]) -> None:
    site.add_user("alice@example.com", plan="pro")
    headers = site.bearer("alice@example.com")
    sid = upload_ok(site.server.client, headers, JFK, title="jfk")
    wait_status(site.server.client, headers, sid, timeout=60, fail=True)
    page = new_page()
    sign_in(page, site.url, "alice@example.com")
    page.goto(f"{site.url}/sessions/{sid}")
    settle(page, "/sessions/")
    buttons = page.locator(".seg-time")
    for i in range(buttons.count()):
        b = buttons.nth(i)
        shown = b.evaluate("e => e.firstChild.textContent")
        start = float(b.get_attribute("data-start") or "nan")
        assert re.fullmatch(r"\d+:\d\d", shown)
        m, s = shown.split(":")
        assert int(m) * 60 + int(s) == round(start)  # the page rounds like every export
        name = b.evaluate("e => e.textContent")  # the accessible name: the text, no aria-label
        assert b.get_attribute("aria-label") is None and name.startswith(shown)
