"""Mail when work is done: a real SMTP server on loopback (aiosmtpd) gets the completion
mail (plain text and HTML, a link to the page, no token); with the server down the mail
waits and arrives once it is back; choices and the no-SMTP case on the API."""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import select

from tapeworks.notifications.models import MailDelivery
from tapeworks.queue import jobs
from tests.conftest import Api
from tests.helpers.api import upload_ok
from tests.helpers.paths import JFK
from tests.helpers.smtp_server import MailServer, free_port

SCHEDULE = (0.0, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3)


def run_jobs(api: Api, until: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not until():
        assert time.monotonic() < deadline, "jobs did not get there in time"
        outcomes = [jobs.execute_next(api.runtime, pool) for pool in ("long", "short")]
        if all(o == "idle" for o in outcomes):
            time.sleep(0.05)


def mails(api: Api) -> list[MailDelivery]:
    with api.runtime.database.transaction() as db:
        return list(db.scalars(select(MailDelivery)))


def test_the_completion_mail_reaches_a_real_smtp_server(
        db_url: str, make_api: Callable[..., Api], mail_server: MailServer) -> None:
    api = make_api(db_url, smtp_url=mail_server.url, public_url="https://tw.example.com",
                   webhook_retry_schedule=SCHEDULE)
    alice = api.create_user("alice@example.com")
    sid = upload_ok(api.client, alice, JFK, title="Monday call")
    run_jobs(api, lambda: len(mail_server.received) >= 1)
    (got,) = mail_server.received
    assert got.rcpt_tos == ["alice@example.com"]
    msg = got.message
    assert "Monday call" in msg["Subject"]
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert f"https://tw.example.com/sessions/{sid}" in text
    assert f"https://tw.example.com/sessions/{sid}" in html
    assert "token" not in text.lower() and "/account" in text
    assert [m.status for m in mails(api)] == ["sent"]


def test_with_the_mail_server_down_the_mail_arrives_after_it_comes_back(
        db_url: str, make_api: Callable[..., Api]) -> None:
    port = free_port()
    server = MailServer(port=port)
    api = make_api(db_url, smtp_url=server.url, webhook_retry_schedule=SCHEDULE)
    alice = api.create_user("alice@example.com")
    upload_ok(api.client, alice, JFK)
    run_jobs(api, lambda: any(m.attempts >= 1 for m in mails(api)))
    (pending,) = mails(api)
    assert pending.status == "pending"
    assert "could not connect to the mail server" in (pending.last_error or "")
    server.start()
    try:
        run_jobs(api, lambda: len(server.received) >= 1)
        assert "Transcript ready" in server.received[0].message["Subject"]
        assert [m.status for m in mails(api)] == ["sent"]
    finally:
        server.stop()


def test_choices_on_the_api_and_nothing_sent_without_smtp(
        db_url: str, make_api: Callable[..., Api], mail_server: MailServer) -> None:
    api = make_api(db_url, smtp_url=mail_server.url)
    alice = api.create_user("alice@example.com")
    got = api.client.get("/api/v1/auth/me/notifications", headers=alice).json()
    assert got["mail_configured"] is True
    assert got["mail_events"] == ["session.completed", "session.failed", "episode.completed",
                                  "episode.failed"]
    r = api.client.put("/api/v1/auth/me/notifications", headers=alice,
                       json={"mail_events": ["session.failed"]})
    assert r.status_code == 200 and r.json()["mail_events"] == ["session.failed"]
    r = api.client.put("/api/v1/auth/me/notifications", headers=alice,
                       json={"mail_events": ["session.finished"]})
    assert r.status_code == 422 and "session.finished" in r.json()["error"]["message"]
    upload_ok(api.client, alice, JFK)  # completes: not chosen any more
    run_jobs(api, lambda: not jobs_left(api))
    assert mail_server.received == [] and mails(api) == []

    no_smtp = make_api(db_url)
    bob = no_smtp.create_user("bob@example.com")
    assert no_smtp.client.get("/api/v1/auth/me/notifications",
                              headers=bob).json()["mail_configured"] is False
    upload_ok(no_smtp.client, bob, JFK)
    run_jobs(no_smtp, lambda: not jobs_left(no_smtp))
    assert mail_server.received == [] and mails(no_smtp) == []


def jobs_left(api: Api) -> bool:
    from tapeworks.queue.models import Job
    with api.runtime.database.transaction() as db:
        return db.scalar(select(Job.id).where(Job.status.in_(("queued", "running")))) is not None


def test_one_click_unsubscribe_stops_that_mail_only(
        db_url: str, make_api: Callable[..., Api], mail_server: MailServer) -> None:
    """Each chosen mail carries RFC 8058's headers; the mail client's one-click POST (no
    login, no CSRF token, no Origin) stops that kind of mail and no other; a GET only asks;
    a forged or altered link is refused; the webhook notice, not a choice, has no link."""
    import httpx

    api = make_api(db_url, smtp_url=mail_server.url, public_url="https://tw.example.com",
                   webhook_retry_schedule=SCHEDULE)
    alice = api.create_user("alice@example.com")
    upload_ok(api.client, alice, JFK, title="Monday call")
    run_jobs(api, lambda: len(mail_server.received) >= 1)
    msg = mail_server.received[0].message
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    header = msg["List-Unsubscribe"]
    assert header.startswith("<https://tw.example.com/unsubscribe/") and header.endswith(">")
    url = header[1:-1]
    assert url in msg.get_body(("plain",)).get_content()
    assert url in msg.get_body(("html",)).get_content()
    path = httpx.URL(url).path
    before = api.client.get("/api/v1/auth/me/notifications", headers=alice).json()["mail_events"]
    assert "session.completed" in before

    page = api.client.get(path)  # a scanner or a person opening the link: nothing changes
    assert page.status_code == 200 and "Stop these mails" in page.text
    assert "a transcript is ready" in page.text
    assert api.client.get("/api/v1/auth/me/notifications",
                          headers=alice).json()["mail_events"] == before

    tampered = path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB")
    assert api.client.post(tampered, data={"List-Unsubscribe": "One-Click"}).status_code == 404
    assert api.client.get("/unsubscribe/not-a-token").status_code == 404

    api.client.cookies.clear()  # a mail client: no login, no CSRF token, no Origin
    r = api.client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert r.status_code == 200 and "no longer get these mails" in r.text
    after = api.client.get("/api/v1/auth/me/notifications", headers=alice).json()["mail_events"]
    assert after == [e for e in before if e != "session.completed"]
    assert api.client.post(path, data={"List-Unsubscribe": "One-Click"}).status_code == 200

    # the next transcription sends no mail
    sid = upload_ok(api.client, alice, JFK, title="Tuesday call")
    run_jobs(api, lambda: api.client.get(f"/api/v1/sessions/{sid}/status",
                                         headers=alice).json()["status"] == "completed")
    for _ in range(20):  # whatever the outbox still had to do
        jobs.execute_next(api.runtime, "short")
    assert len(mail_server.received) == 1 and len(mails(api)) == 1


def test_a_notice_that_is_not_a_choice_has_no_unsubscribe_link() -> None:
    from tapeworks.notifications.messages import build_message
    from tapeworks.notifications.unsubscribe import make_token, read_token, url_for

    assert url_for("https://tw.example.com", "k", "u1", "webhook.disabled") is None
    msg = build_message("webhook.disabled", {"url": "https://hooks.example.com"},
                        to="a@example.com", mail_from="tw@example.com",
                        public_url="https://tw.example.com")
    assert msg["List-Unsubscribe"] is None and "Stop mails" not in msg.as_string()
    token = make_token("secret-one", "u1", "episode.failed")
    assert read_token("secret-one", token) is not None
    assert read_token("secret-two", token) is None  # another deployment's key
    assert read_token("secret-one", make_token("secret-one", "u1", "not.an.event")) is None
