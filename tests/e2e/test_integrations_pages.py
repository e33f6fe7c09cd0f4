"""Issue 14's pages in a real headless Chromium: the webhooks page (add an endpoint, its
secret shown once, the test button, the delivery log with each attempt, redeliver, a
disabled endpoint's reason) and the account page's notification choices; axe-core, no
sideways scrolling and screenshots at 1280 px and 390 px."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from tests.conftest import LiveServer
from tests.e2e.conftest import Site, sign_in
from tests.helpers.pages import axe_violations, describe, shot, sideways_overflow
from tests.helpers.webhook_receiver import Receiver, Reply

pytestmark = pytest.mark.e2e
HEIGHT = {1280: 900, 390: 844}
EMAIL = "hooks@example.com"


@pytest.fixture
def hook_site(live_server: Callable[..., LiveServer], fresh_db_url: Callable[[str], str]) -> Site:
    srv = live_server(fresh_db_url("sqlite"), workers=1, webhook_allow_private=True,
                      webhook_retry_schedule=(0.0, 0.3, 0.3), job_heartbeat_seconds=0.5)
    return Site(srv)


def reload_until(page: Any, text: str, timeout: float = 20.0) -> None:
    """Reload the page until the delivery log shows `text` (the job runs in the server)."""
    deadline = time.monotonic() + timeout
    while True:
        page.reload()
        log = page.locator("table.deliveries")
        if log.count() and text in log.first.inner_text():
            return
        assert time.monotonic() < deadline, f"the delivery log never showed {text!r}"
        time.sleep(0.2)


def check_page(page: Any, artifacts: Path, name: str, width: int) -> None:
    violations = axe_violations(page)
    assert not violations, f"axe on {name} at {width} px:\n{describe(violations)}"
    overflow = sideways_overflow(page)
    assert overflow <= 0, f"{name} scrolls sideways by {overflow} px at {width} px"
    shot(page, artifacts, f"{name}-{width}")


@pytest.mark.parametrize("width", [1280, 390])
def test_webhooks_page_and_notification_choices(
        hook_site: Site, new_page: Callable[..., Any], artifacts: Path,
        webhook_receiver: Receiver, width: int) -> None:
    out = artifacts / "pages"
    out.mkdir(exist_ok=True)
    site = hook_site
    site.add_user(EMAIL)
    page = new_page(width, HEIGHT[width])
    sign_in(page, site.url, EMAIL)
    page.goto(site.url + "/webhooks")
    check_page(page, out, "webhooks-empty", width)

    # a private address is refused in words (the server allows it here, so use a bad scheme)
    page.fill("#webhook-url", "ftp://example.com/hook")
    page.evaluate("() => document.querySelector('#webhook-url').type = 'text'")
    page.click("#webhook-form button[type=submit]")
    assert "http://" in page.locator("#error").inner_text()

    page.fill("#webhook-url", webhook_receiver.url)
    page.fill("#webhook-description", "my automation")
    page.check("input[name=events][value='session.completed']")
    page.click("#webhook-form button[type=submit]")
    secret = page.locator("#new-secret").inner_text().strip()
    assert secret.startswith("whsec_")
    check_page(page, out, "webhooks-new-secret", width)
    page.reload()
    assert page.locator("#new-secret").count() == 0  # shown once

    webhook_receiver.script = [Reply(500)]
    page.get_by_role("button", name=f"Send a test event to {webhook_receiver.url}").click()
    webhook_receiver.wait_for(1)
    reload_until(page, "HTTP 500")
    # the test event is sent once: redeliver it, it arrives with the same webhook-id
    page.locator("table.deliveries button", has_text="Redeliver").first.click()
    got = webhook_receiver.wait_for(2)
    assert got[0].headers["webhook-id"] == got[1].headers["webhook-id"]
    assert Webhook(secret).verify(got[1].body, got[1].headers)["type"] == "webhook.test"
    reload_until(page, "HTTP 204")
    check_page(page, out, "webhooks-log", width)

    page.get_by_role("button", name=f"Disable {webhook_receiver.url}").click()
    assert page.locator(".webhook-disabled").count() == 1
    check_page(page, out, "webhooks-disabled", width)

    # notification choices on the account page; no mail server here, and it says so
    page.goto(site.url + "/account#notifications-heading")
    assert page.locator("#mail-not-configured").count() == 1
    assert page.locator("input[name=mail_events][value='session.completed']").is_checked()
    assert not page.locator("input[name=mail_events][value='episode.published']").is_checked()
    page.uncheck("input[name=mail_events][value='session.completed']")
    page.check("input[name=mail_events][value='episode.published']")
    page.click("#notifications-form button[type=submit]")
    assert not page.locator("input[name=mail_events][value='session.completed']").is_checked()
    assert page.locator("input[name=mail_events][value='episode.published']").is_checked()
    r = site.server.client.get("/api/v1/auth/me/notifications", headers=site.bearer(EMAIL))
    assert "episode.published" in r.json()["mail_events"]
    assert "session.completed" not in r.json()["mail_events"]
    check_page(page, out, "account-notifications", width)


@pytest.mark.parametrize("width", [1280, 390])
def test_the_unsubscribe_link_asks_then_stops_that_mail(
        site: Site, new_page: Callable[..., Any], artifacts: Path, width: int) -> None:
    """The link from a mail, opened signed out: a page that asks (a GET changes nothing),
    the button stops that one kind of mail, a broken link says so; axe, no sideways
    scrolling, screenshots."""
    from tapeworks.notifications import service as mail
    from tapeworks.notifications.unsubscribe import url_for

    out = artifacts / "pages"
    out.mkdir(exist_ok=True)
    user_id = site.add_user(EMAIL)
    rt = site.server.runtime
    link = url_for(site.url, rt.settings.resolved_secret_key(), user_id, "episode.completed")
    assert link is not None
    page = new_page(width, HEIGHT[width])
    page.goto(link)
    assert page.locator("h1").inner_text() == "Stop these mails?"
    assert "an episode is ready" in page.locator("#unsub-message").inner_text()
    check_page(page, out, "unsubscribe-ask", width)
    with rt.database.transaction() as db:
        assert "episode.completed" in mail.mail_events(db, user_id)
    page.get_by_role("button", name="Stop these mails").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "You will no longer get these mails"
    check_page(page, out, "unsubscribe-done", width)
    with rt.database.transaction() as db:
        chosen = mail.mail_events(db, user_id)
    assert "episode.completed" not in chosen and "session.completed" in chosen
    page.goto(link[:-4] + "xxxx")
    assert page.locator("h1").inner_text() == "This link does not work"
    check_page(page, out, "unsubscribe-invalid", width)
