"""Webhooks end to end: events written with the change (the outbox), delivered as jobs
under the job rules, signed per Standard Webhooks, retried on the schedule, refused for
private addresses. Real databases (SQLite and PostgreSQL), a real receiver on loopback."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select
from standardwebhooks.webhooks import Webhook

from tapeworks.events.models import Event
from tapeworks.queue import jobs
from tapeworks.queue.jobs import JobContext
from tapeworks.queue.models import Job
from tapeworks.webhooks.models import WebhookDelivery
from tests.conftest import Api
from tests.helpers.api import upload_ok
from tests.helpers.paths import JFK
from tests.helpers.webhook_receiver import Receiver, Reply

FAST = {"webhook_allow_private": True, "webhook_retry_schedule": (0.0, 0.2, 0.2, 0.2)}


def run_jobs(api: Api, until: Callable[[], bool], timeout: float = 60.0) -> None:
    """Run due jobs in this process (the app has no workers) until `until()` holds."""
    deadline = time.monotonic() + timeout
    while not until():
        assert time.monotonic() < deadline, "jobs did not get there in time"
        outcomes = [jobs.execute_next(api.runtime, pool) for pool in ("long", "short")]
        if all(o == "idle" for o in outcomes):
            time.sleep(0.05)


def count(api: Api, model: Any, *where: Any) -> int:
    with api.runtime.database.transaction() as db:
        return int(db.scalar(select(func.count()).select_from(model).where(*where)) or 0)


@pytest.fixture
def fast_api(db_url: str, make_api: Callable[..., Api]) -> Api:
    return make_api(db_url, **FAST)


def test_a_receiver_failing_twice_gets_the_event_three_times_with_one_id(
        fast_api: Api, webhook_receiver: Receiver) -> None:
    api = fast_api
    alice = api.create_user("alice@example.com")
    r = api.client.post("/api/v1/webhooks", headers=alice, json={
        "url": webhook_receiver.url, "events": ["session.completed"], "description": "mine"})
    assert r.status_code == 201, r.text
    hook = r.json()
    assert hook["secret"].startswith("whsec_")
    assert "secret" not in api.client.get(f"/api/v1/webhooks/{hook['id']}", headers=alice).json()
    webhook_receiver.script = [Reply(500), Reply(503)]
    sid = upload_ok(api.client, alice, JFK)
    run_jobs(api, lambda: len(webhook_receiver.received) >= 3
             and count(api, WebhookDelivery, WebhookDelivery.status == "delivered") == 1)
    got = webhook_receiver.received
    assert len(got) == 3
    assert len({g.headers["webhook-id"] for g in got}) == 1
    for g in got:
        payload = Webhook(hook["secret"]).verify(g.body, g.headers)
        assert payload["type"] == "session.completed"
        assert payload["data"]["id"] == sid
        assert payload["data"]["links"]["api"].endswith(f"/api/v1/sessions/{sid}")
        assert len(g.body) < 20 * 1024
    page = api.client.get(f"/api/v1/webhooks/{hook['id']}/deliveries", headers=alice).json()
    assert page["total"] == 1
    (delivery,) = page["items"]
    assert delivery["event_id"] == got[0].headers["webhook-id"]
    assert delivery["status"] == "delivered"
    assert [a["status_code"] for a in delivery["attempts"]] == [500, 503, 204]
    assert [a["outcome"] for a in delivery["attempts"]] == ["failed", "failed", "delivered"]
    assert all(a["duration_ms"] >= 0 and a["attempted_at"] for a in delivery["attempts"])

    # redeliver: the same event (same webhook-id), a new delivery
    r = api.client.post(f"/api/v1/webhooks/{hook['id']}/deliveries/{delivery['id']}/redeliver",
                        headers=alice)
    assert r.status_code == 202, r.text
    run_jobs(api, lambda: len(webhook_receiver.received) >= 4)
    assert webhook_receiver.received[3].headers["webhook-id"] == delivery["event_id"]
    # another user sees none of it
    bob = api.create_user("bob@example.com")
    assert api.client.get(f"/api/v1/webhooks/{hook['id']}/deliveries",
                          headers=bob).status_code == 404


def test_a_rolled_back_completion_records_no_event(fast_api: Api,
                                                   webhook_receiver: Receiver) -> None:
    api = fast_api
    rt = api.runtime
    alice = api.create_user("alice@example.com")
    assert api.client.post("/api/v1/webhooks", headers=alice,
                           json={"url": webhook_receiver.url}).status_code == 201
    upload_ok(api.client, alice, JFK)
    claimed = rt.database.run(lambda db: jobs.claim_next(db, rt, "long", "test-owner"))
    assert claimed is not None
    ref, payload = claimed
    result = rt.registry.handler(ref.kind).work(JobContext(rt, ref), payload)

    class Boom(Exception):
        pass

    with pytest.raises(Boom), rt.database.transaction() as db:
        jobs.save(db, rt, ref, payload, result)
        assert db.scalar(select(func.count()).select_from(Event)) == 1  # written...
        raise Boom  # ...and rolled back with the completion
    assert count(api, Event) == 0
    assert count(api, WebhookDelivery) == 0
    assert count(api, Job, Job.kind == "webhook.deliver") == 0
    rt.database.run(lambda db: jobs.save(db, rt, ref, payload, result))
    assert count(api, Event, Event.type == "session.completed") == 1
    run_jobs(api, lambda: len(webhook_receiver.received) >= 1)
    assert json.loads(webhook_receiver.received[0].body)["type"] == "session.completed"


def test_failed_transcription_sends_session_failed_and_subscriptions_filter(
        fast_api: Api, webhook_receiver: Receiver) -> None:
    api = fast_api
    alice = api.create_user("alice@example.com")
    only_failed = api.client.post("/api/v1/webhooks", headers=alice, json={
        "url": webhook_receiver.url + "?failed", "events": ["session.failed"]}).json()
    everything = api.client.post("/api/v1/webhooks", headers=alice, json={
        "url": webhook_receiver.url + "?all", "events": []}).json()
    upload_ok(api.client, alice, JFK)
    run_jobs(api, lambda: count(api, WebhookDelivery, WebhookDelivery.status == "delivered") == 1)
    assert [g.path for g in webhook_receiver.received] == ["/hook?all"]
    assert only_failed["events"] == ["session.failed"] and everything["events"] == []


def test_410_disables_the_endpoint(fast_api: Api, webhook_receiver: Receiver) -> None:
    api = fast_api
    alice = api.create_user("alice@example.com")
    hook = api.client.post("/api/v1/webhooks", headers=alice,
                           json={"url": webhook_receiver.url}).json()
    webhook_receiver.script = [Reply(410)]
    upload_ok(api.client, alice, JFK)
    run_jobs(api, lambda: count(api, WebhookDelivery, WebhookDelivery.status == "failed") == 1)
    got = api.client.get(f"/api/v1/webhooks/{hook['id']}", headers=alice).json()
    assert got["enabled"] is False and "410" in got["disabled_reason"]
    assert len(webhook_receiver.received) == 1
    # enabled again by its owner
    r = api.client.patch(f"/api/v1/webhooks/{hook['id']}", headers=alice, json={"enabled": True})
    assert r.json()["enabled"] is True and r.json()["disabled_reason"] is None


def test_the_test_button_and_rotation_send_both_signatures(
        fast_api: Api, webhook_receiver: Receiver) -> None:
    api = fast_api
    alice = api.create_user("alice@example.com")
    hook = api.client.post("/api/v1/webhooks", headers=alice,
                           json={"url": webhook_receiver.url}).json()
    rotated = api.client.post(f"/api/v1/webhooks/{hook['id']}/rotate-secret", headers=alice)
    assert rotated.status_code == 200
    new_secret = rotated.json()["secret"]
    assert new_secret != hook["secret"]
    r = api.client.post(f"/api/v1/webhooks/{hook['id']}/test", headers=alice)
    assert r.status_code == 202 and r.json()["event_type"] == "webhook.test"
    run_jobs(api, lambda: len(webhook_receiver.received) >= 1)
    got = webhook_receiver.received[0]
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    assert Webhook(new_secret).verify(got.body, got.headers)["type"] == "webhook.test"
    assert Webhook(hook["secret"]).verify(got.body, got.headers)["type"] == "webhook.test"


def test_bad_webhook_input_is_a_422_in_words(fast_api: Api) -> None:
    api = fast_api
    alice = api.create_user("alice@example.com")
    r = api.client.post("/api/v1/webhooks", headers=alice,
                        json={"url": "http://127.0.0.1:9/", "events": ["session.done"]})
    assert r.status_code == 422 and "session.done" in r.json()["error"]["message"]
    r = api.client.post("/api/v1/webhooks", headers=alice, json={"url": "ftp://example.com/"})
    assert r.status_code == 422 and "http://" in r.json()["error"]["message"]
    assert api.client.delete("/api/v1/webhooks/nope", headers=alice).status_code == 404


# ---------------------------------------------------------------- SSRF (no packet leaves)
class Sockets:
    def __init__(self) -> None:
        self.attempts: list[Any] = []

    def refuse(self, *args: Any, **kw: Any) -> Any:
        self.attempts.append(args)
        raise ConnectionRefusedError(111, "socket stub")


@pytest.fixture
def no_sockets(monkeypatch: pytest.MonkeyPatch) -> Sockets:
    stub = Sockets()
    real_getaddrinfo = socket.getaddrinfo
    answers = {"loopback.example": "127.0.0.1", "rebind.example": "93.184.216.34"}

    def getaddrinfo(host: str, port: Any, *a: Any, **kw: Any) -> Any:
        if host in answers:
            addr = answers[host]
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (addr, port or 80))]
        return real_getaddrinfo(host, port, *a, **kw)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    stub.answers = answers  # type: ignore[attr-defined]
    return stub


@pytest.mark.parametrize("url", ["http://127.0.0.1/", "http://[::1]/",
                                 "http://169.254.169.254/", "http://10.0.0.1/",
                                 "http://loopback.example/"])
def test_ssrf_private_urls_are_refused_at_registration(
        db_url: str, make_api: Callable[..., Api], no_sockets: Sockets,
        monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    api = make_api(db_url)
    alice = api.create_user("alice@example.com")
    monkeypatch.setattr(socket, "create_connection", no_sockets.refuse)
    monkeypatch.setattr(socket.socket, "connect", no_sockets.refuse)
    r = api.client.post("/api/v1/webhooks", headers=alice, json={"url": url})
    assert r.status_code == 422, r.text
    assert "webhooks may not reach" in r.json()["error"]["message"]
    assert no_sockets.attempts == []


def test_ssrf_dns_rebinding_is_refused_at_delivery(
        db_url: str, make_api: Callable[..., Api], no_sockets: Sockets,
        monkeypatch: pytest.MonkeyPatch) -> None:
    api = make_api(db_url, webhook_retry_schedule=(0.0,))
    alice = api.create_user("alice@example.com")
    hook = api.client.post("/api/v1/webhooks", headers=alice,
                           json={"url": "http://rebind.example/hook"}).json()
    assert hook["enabled"]
    no_sockets.answers["rebind.example"] = "169.254.169.254"  # type: ignore[attr-defined]
    assert api.client.post(f"/api/v1/webhooks/{hook['id']}/test", headers=alice).status_code == 202
    monkeypatch.setattr(socket, "create_connection", no_sockets.refuse)
    monkeypatch.setattr(socket.socket, "connect", no_sockets.refuse)
    run_jobs(api, lambda: count(api, WebhookDelivery, WebhookDelivery.status == "failed") == 1)
    page = api.client.get(f"/api/v1/webhooks/{hook['id']}/deliveries", headers=alice).json()
    (attempt,) = page["items"][0]["attempts"]
    assert "metadata" in attempt["error"] and attempt["status_code"] is None
    assert no_sockets.attempts == []


def test_an_endpoint_failing_for_the_whole_window_is_disabled_and_its_owner_mailed(
        db_url: str, make_api: Callable[..., Api], webhook_receiver: Receiver,
        mail_server: Any) -> None:
    api = make_api(db_url, webhook_allow_private=True, smtp_url=mail_server.url,
                   webhook_retry_schedule=(0.0, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4),
                   webhook_disable_after_seconds=1.0)
    alice = api.create_user("alice@example.com")
    hook = api.client.post("/api/v1/webhooks", headers=alice,
                           json={"url": webhook_receiver.url,
                                 "events": ["session.completed"]}).json()
    webhook_receiver.default = Reply(500)
    api.client.put("/api/v1/auth/me/notifications", headers=alice, json={"mail_events": []})
    upload_ok(api.client, alice, JFK)
    run_jobs(api, lambda: len(mail_server.received) >= 1)
    got = api.client.get(f"/api/v1/webhooks/{hook['id']}", headers=alice).json()
    assert got["enabled"] is False and "failed for" in got["disabled_reason"]
    assert "webhook endpoint was disabled" in mail_server.received[0].message["Subject"]
    n = len(webhook_receiver.received)
    assert 2 <= n < 7  # stopped before the schedule ran out
    time.sleep(1.0)
    run_jobs(api, lambda: True)
    assert len(webhook_receiver.received) == n
