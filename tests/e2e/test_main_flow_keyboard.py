"""Issue 11's main flow in a real headless Chromium at 1280 px and 390 px, by keyboard
only (the file itself is handed to the file input, as a chooser would): upload, rename a
speaker, edit a word, undo (Ctrl+Z), export, produce an episode, restore a cut. Each step
is checked on the server; axe finds nothing and no page scrolls sideways on the way."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Site, sign_in
from tests.e2e.test_pages import HEIGHT, WIDTHS, jfk_with_pauses
from tests.helpers.api import wait_status
from tests.helpers.pages import axe_violations, describe, shot, sideways_overflow, wait_until

pytestmark = pytest.mark.e2e


def _clean(page: Any, artifacts: Path, name: str, width: int) -> None:
    violations = axe_violations(page)
    assert not violations, f"axe on {name} at {width} px:\n{describe(violations)}"
    assert sideways_overflow(page) <= 0, f"{name} scrolls sideways at {width} px"
    out = artifacts / "pages"
    out.mkdir(exist_ok=True)
    shot(page, out, f"flow-{name}-{width}")


def _press(page: Any, selector: str, key: str = "Enter") -> None:
    page.locator(selector).first.focus()
    page.keyboard.press(key)


def _tab(page: Any, width: int, name: str) -> None:
    if width < 900:  # the phone layout: one part at a time, chosen with the tabs
        _press(page, f"#tab-{name}")


@pytest.mark.parametrize("width", WIDTHS)
def test_the_main_flow_works_with_the_keyboard_only(
        site: Site, new_page: Callable[..., Any], artifacts: Path, tmp_path: Path, width: int) -> None:
    site.add_user("kim@example.com", plan="pro")
    client, headers = site.server.client, site.bearer("kim@example.com")
    page = new_page(width, HEIGHT[width])
    sign_in(page, site.url, "kim@example.com")

    # upload; the library offers the finished recording; Enter opens it
    page.set_input_files("#file-input", str(jfk_with_pauses(tmp_path / "ask-not.wav")))
    opener = page.locator("#upload-list a", has_text="Open")
    opener.wait_for(timeout=90_000)
    sid = client.get("/api/v1/sessions", headers=headers).json()["items"][0]["id"]
    opener.focus()
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/sessions/{sid}")
    page.locator("#transcript .w").first.wait_for()
    _clean(page, artifacts, "session", width)

    def server() -> dict[str, Any]:
        body: dict[str, Any] = client.get(f"/api/v1/sessions/{sid}/transcript", headers=headers).json()
        return body

    before = server()

    # rename the speaker: type in the name field, Enter saves
    _tab(page, width, "speakers")
    name = page.locator("#speakers-form input[type=text]").first
    name.focus()
    page.keyboard.press("Control+A")
    page.keyboard.type("President")
    page.keyboard.press("Enter")
    wait_until(page, "document.querySelector('.turn-head') && "
                     "document.querySelector('.turn-head').textContent.indexOf('President') >= 0")
    assert server()["speakers"][0]["name"] == "President"
    renamed = server()

    # edit one word: focus it, E, type, Enter
    _tab(page, width, "transcript")
    page.locator("#transcript .w").nth(1).focus()
    page.keyboard.press("e")
    page.locator(".word-input").wait_for()
    page.keyboard.press("Control+A")
    page.keyboard.type("thus,")
    page.keyboard.press("Enter")
    page.locator("#toast", has_text="Word changed.").wait_for()
    words = [w["text"] for s in server()["segments"] for w in s["words"]]
    assert words[1] == "thus,"

    # undo with Ctrl+Z: the transcript is the renamed one again, word for word
    page.locator("#transcript .w").nth(3).focus()
    page.keyboard.press("Control+z")
    page.locator("#toast", has_text="Undone").wait_for()
    now = server()
    assert now["segments"] == renamed["segments"] and now["speakers"] == renamed["speakers"]
    assert now["segments"] == before["segments"]
    assert page.locator("#transcript .w").nth(1).text_content() == \
        renamed["segments"][0]["words"][1]["text"]
    _clean(page, artifacts, "session-undone", width)

    # export: Enter on the SRT link downloads the edited transcript
    _tab(page, width, "export")
    with page.expect_download() as dl:
        _press(page, "#export-srt")
    srt = Path(dl.value.path()).read_text()
    assert "-->" in srt and "President:" in srt and "thus," not in srt  # renamed, edit undone

    # produce: the episode form, title typed, Enter; the episode page opens
    _tab(page, width, "episode")
    page.locator("#ep-title-input").focus()
    page.keyboard.type("Ask not, by keyboard")
    page.keyboard.press("Enter")
    page.wait_for_url("**/episodes/*")
    eid = page.url.rsplit("/", 1)[-1]
    wait_status(client, headers, eid, what="episodes", timeout=120, fail=True)
    page.locator("#ep-cuts .cut .js-restore").first.wait_for(timeout=30_000)
    _clean(page, artifacts, "episode", width)
    edits = client.get(f"/api/v1/episodes/{eid}/edit-list", headers=headers).json()
    applied = [c for c in edits["cuts"] if c["applied"]]
    assert applied, edits

    # restore the first cut: Restore, then the apply button; a new version without it
    first = page.locator("#ep-cuts .cut").filter(has=page.locator(".js-restore")).first
    cut_id = first.get_attribute("data-cut-id")
    assert cut_id in {c["id"] for c in applied}
    first.locator(".js-restore").focus()
    page.keyboard.press("Enter")
    page.locator("#cut-apply").wait_for()
    _press(page, "#cut-apply")
    page.locator("#toast", has_text="new version").wait_for()

    def versions() -> dict[str, Any]:
        body: dict[str, Any] = client.get(f"/api/v1/episodes/{eid}/versions", headers=headers).json()
        return body

    wait_status(client, headers, eid, what="episodes", timeout=120, fail=True)
    assert versions()["current_version"] == 2
    after = client.get(f"/api/v1/episodes/{eid}/edit-list", headers=headers).json()
    assert cut_id not in {c["id"] for c in after["cuts"]}
    assert len([c for c in after["cuts"] if c["applied"]]) == len(applied) - 1
    assert client.get(f"/api/v1/episodes/{eid}", headers=headers).json()["cuts_settings"]["restore"] == [cut_id]
    # the page shows both versions once the new one is done
    page.locator("#ep-versions li", has_text="Version 2").wait_for(timeout=30_000)
    assert page.locator("#ep-versions li", has_text="Version 1").count() == 1
    _clean(page, artifacts, "episode-v2", width)
