"""Shows pages in headless Chromium: make a show, see its feed URL and the artwork warning,
bad input answered on the form; another user's show is 404."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Site, sign_in

pytestmark = pytest.mark.e2e


def test_make_a_show_and_read_its_page(site: Site, new_page: Callable[..., Any]) -> None:
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
