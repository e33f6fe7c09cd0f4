"""Deliveries are durable jobs: a worker process killed while a delivery is due (or while
it is being sent) loses nothing; the restarted worker delivers the event, accepted once.
PostgreSQL and Redis, real `tapeworks worker` processes, a real receiver on loopback."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from tapeworks.webhooks.models import WebhookAttempt, WebhookDelivery
from tests.conftest import Api
from tests.helpers.api import upload_ok
from tests.helpers.paths import JFK
from tests.helpers.webhook_receiver import Receiver, Reply
from tests.helpers.workers import start_tapeworks

RETRY_SECONDS = 4.0


@pytest.fixture
def worker_api(fresh_db_url: Callable[[str], str], redis_queue: str,
               make_api: Callable[..., Api]) -> Api:
    return make_api(fresh_db_url("postgresql"), queue_url="redis://127.0.0.1:6379/0",
                    queue_name=redis_queue, webhook_allow_private=True,
                    webhook_retry_schedule=(0.0, RETRY_SECONDS, RETRY_SECONDS),
                    job_lease_seconds=2.0, job_heartbeat_seconds=0.5,
                    reconcile_interval_seconds=0.5)


def start(api: Api, log: Path) -> subprocess.Popen[bytes]:
    s = api.runtime.settings
    return start_tapeworks(s, log, "worker", "--threads", "1", env={
        "TAPEWORKS_WEBHOOK_ALLOW_PRIVATE": "true",
        "TAPEWORKS_WEBHOOK_RETRY_SCHEDULE": f"0,{RETRY_SECONDS}s,{RETRY_SECONDS}s",
    })


def kill(p: subprocess.Popen[bytes] | None) -> None:
    if p is not None and p.poll() is None:
        p.send_signal(signal.SIGKILL)
        p.wait(10)


def delivery_state(api: Api) -> tuple[list[str], list[int | None]]:
    with api.runtime.database.transaction(write=False) as db:
        return (list(db.scalars(select(WebhookDelivery.status))),
                list(db.scalars(select(WebhookAttempt.status_code)
                                .order_by(WebhookAttempt.number))))


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def test_worker_killed_while_a_delivery_is_due(worker_api: Api, webhook_receiver: Receiver,
                                               tmp_path: Path) -> None:
    api = worker_api
    alice = api.create_user("alice@example.com")
    hook = api.client.post("/api/v1/webhooks", headers=alice,
                           json={"url": webhook_receiver.url}).json()
    webhook_receiver.script = [Reply(500)]
    log = tmp_path / "worker.log"
    first = start(api, log)
    second = None
    try:
        upload_ok(api.client, alice, JFK)
        webhook_receiver.wait_for(1, timeout=90)
        wait_until(lambda: delivery_state(api)[1] == [500], 30, "first attempt not recorded")
        kill(first)  # the second attempt is due in RETRY_SECONDS; nobody is running
        time.sleep(RETRY_SECONDS + 1)
        assert len(webhook_receiver.received) == 1
        second = start(api, log)
        webhook_receiver.wait_for(2, timeout=60)
        wait_until(lambda: delivery_state(api)[0] == ["delivered"], 30, log.read_text()[-2000:])
        time.sleep(1.0)
        got = webhook_receiver.received
        assert len(got) == 2 and got[0].headers["webhook-id"] == got[1].headers["webhook-id"]
        assert delivery_state(api) == (["delivered"], [500, 204])
        page = api.client.get(f"/api/v1/webhooks/{hook['id']}/deliveries", headers=alice).json()
        assert [a["status_code"] for a in page["items"][0]["attempts"]] == [500, 204]
    finally:
        kill(first)
        kill(second)


def test_worker_killed_while_sending_retries_with_the_same_id(
        worker_api: Api, webhook_receiver: Receiver, tmp_path: Path) -> None:
    api = worker_api
    alice = api.create_user("alice@example.com")
    api.client.post("/api/v1/webhooks", headers=alice, json={"url": webhook_receiver.url})
    webhook_receiver.script = [Reply(204, delay=8.0)]  # the answer never reaches the killed worker
    log = tmp_path / "worker.log"
    first = start(api, log)
    second = None
    try:
        upload_ok(api.client, alice, JFK)
        webhook_receiver.wait_for(1, timeout=90)
        kill(first)
        assert delivery_state(api) == (["pending"], [])
        second = start(api, log)  # its reconciler finds the expired lease
        webhook_receiver.wait_for(2, timeout=60)
        wait_until(lambda: delivery_state(api)[0] == ["delivered"], 30, log.read_text()[-2000:])
        got = webhook_receiver.received
        assert got[0].headers["webhook-id"] == got[1].headers["webhook-id"]
        assert delivery_state(api) == (["delivered"], [204])
    finally:
        kill(first)
        kill(second)
