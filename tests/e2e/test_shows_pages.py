"""Shows pages in headless Chromium: make a show, see its feed URL and the artwork warning,
bad input answered on the form; another user's show is 404."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.e2e.conftest import Site, sign_in

pytestmark = pytest.mark.e2e


def _image(path: Path, size: tuple[int, int], fmt: str = "JPEG") -> Path:
    Image.new("RGB", size, (20, 120, 200)).save(path, fmt)
    return path


def test_make_a_show_and_read_its_page(site: Site, new_page: Callable[..., Any],
                                       tmp_path: Path) -> None:
    site.add_user("pod@example.com")
    page = new_page()
    sign_in(page, site.url, "pod@example.com")
    page.goto(site.url + "/shows")
    assert page.get_by_role("heading", name="Shows", exact=True).is_visible()

    page.get_by_label("Title").fill("Coaching <Conversations> & more")
    page.get_by_label("Apple Podcasts category").select_option("Health & Fitness › Mental Health")
    page.get_by_label("Language (BCP 47, e.g. en, en-GB)").fill("not a language")
    page.get_by_role("button", name="Create show").click()
    assert "BCP 47" in page.locator("#show-error").inner_text()
    assert page.get_by_label("Title").input_value() == "Coaching <Conversations> & more"

    page.get_by_label("Language (BCP 47, e.g. en, en-GB)").fill("en-gb")
    page.get_by_label("Apple Podcasts category").select_option("Health & Fitness › Mental Health")
    page.get_by_role("button", name="Create show").click()
    page.wait_for_url(re.compile(r"/shows/[0-9a-f]{32}$"))
    show_id = page.url.rsplit("/", 1)[1]
    assert page.get_by_role("heading", name="Coaching <Conversations> & more").is_visible()
    assert "Health & Fitness › Mental Health · en-GB" in page.locator(".page-head").inner_text()
    assert page.locator("#feed-url").input_value() == f"{site.url}/feeds/{show_id}.xml"
    assert "requires artwork" in page.locator("#artwork-warning").inner_text()
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.get_by_role("button", name="Copy").click()
    page.get_by_role("button", name="Copied").wait_for()  # the clipboard answers asynchronously
    assert page.evaluate("navigator.clipboard.readText()") == f"{site.url}/feeds/{show_id}.xml"

    # artwork from the page: a wrong image is refused naming the rule, a good one replaces
    # the warning
    page.set_input_files("#artwork-file", str(_image(tmp_path / "small.jpg", (600, 600))))
    page.get_by_role("button", name="Upload artwork").click()
    page.locator("#artwork-error").filter(has_text="1400").wait_for()
    assert page.locator("#artwork-warning").is_visible()
    page.set_input_files("#artwork-file", str(_image(tmp_path / "art.png", (1400, 1400), "PNG")))
    page.get_by_role("button", name="Upload artwork").click()
    page.locator("#artwork-image").wait_for()
    assert page.locator("#artwork-warning").count() == 0
    page.wait_for_function("document.getElementById('artwork-image').naturalWidth === 1400")
    feed = httpx.get(f"{site.url}/feeds/{show_id}.xml").text
    assert f"/media/shows/{show_id}/artwork.png" in feed

    page.goto(site.url + "/shows")
    assert page.get_by_role("link", name="Coaching <Conversations> & more").is_visible()

    site.add_user("other@example.com")
    other = httpx.get(f"{site.url}/api/v1/shows/{show_id}", headers=site.bearer("other@example.com"))
    assert other.status_code == 404
    page2 = new_page()
    sign_in(page2, site.url, "other@example.com")
    response = page2.goto(f"{site.url}/shows/{show_id}")
    assert response.status == 404


def test_a_private_show_shows_its_secret_feed_link_once(site: Site,
                                                        new_page: Callable[..., Any]) -> None:
    site.add_user("secret@example.com")
    page = new_page()
    sign_in(page, site.url, "secret@example.com")
    page.goto(site.url + "/shows")
    page.get_by_label("Title").fill("Private club")
    page.get_by_label("Private: the feed needs a secret link").check()
    page.get_by_role("button", name="Create show").click()
    url = page.locator("#feed-url").input_value()
    assert re.fullmatch(rf"{re.escape(site.url)}/feeds/[0-9a-f]{{32}}\.xml\?token=[\w-]{{40,}}",
                        url)
    assert "shown only now" in page.content()
    show_id = url.split("/feeds/")[1].split(".")[0]
    page.goto(f"{site.url}/shows/{show_id}")
    assert "token=" not in page.locator("#feed-url").input_value()
    assert httpx.get(url).status_code == 200
    # a new private link from the page: shown once, the old one stops at once
    page.get_by_role("button", name="Make a new private link").click()
    page.locator("#feed-token-status").filter(has_text="shown only now").wait_for()
    new_url = page.locator("#feed-url").input_value()
    assert "token=" in new_url and new_url != url
    assert httpx.get(url).status_code == 404
    assert httpx.get(new_url).status_code == 200
