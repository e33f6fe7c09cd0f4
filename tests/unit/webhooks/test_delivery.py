"""One webhook attempt against a real receiver on loopback: Standard Webhooks headers
verified by the `standardwebhooks` package, outcome classes, redirects, Retry-After,
timeouts; and the retry schedule."""

from __future__ import annotations

import json
import socket
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tapeworks.config import DEFAULT_WEBHOOK_RETRY_SCHEDULE, Settings, parse_durations
from tapeworks.webhooks.delivery import (
    MAX_BODY_BYTES,
    MAX_RETRY_AFTER_SECONDS,
    Message,
    PayloadTooLarge,
    RetrySchedule,
    WebhookSender,
    event_body,
    headers_for,
    new_secret,
    parse_retry_after,
)
from tapeworks.webhooks.ssrf import AddressPolicy
from tests.helpers.webhook_receiver import Receiver, Reply

LOOPBACK = AddressPolicy(allow_private=True)


def _message(url: str, secrets: tuple[str, ...], data: dict[str, object] | None = None) -> Message:
    body = event_body("session.completed", datetime(2026, 11, 21, 9, 30, tzinfo=UTC),
                      data or {"session_id": "s1"})
    return Message(url, "evt_0123", body, secrets)


def test_a_delivery_carries_standard_webhooks_headers_that_verify(
    webhook_receiver: Receiver,
) -> None:
    secret = new_secret()
    assert secret.startswith("whsec_")
    with WebhookSender(LOOPBACK) as sender:
        result = sender.send(_message(webhook_receiver.url, (secret,)))
    assert result.outcome == "delivered" and result.status_code == 204
    (got,) = webhook_receiver.wait_for(1)
    assert got.headers["webhook-id"] == "evt_0123"
    assert abs(int(got.headers["webhook-timestamp"]) - time.time()) < 60
    assert got.headers["content-type"] == "application/json"
    payload = Webhook(secret).verify(got.body, got.headers)
    assert payload == {"type": "session.completed", "timestamp": "2026-11-21T09:30:00.000Z",
                       "data": {"session_id": "s1"}}
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(got.body, got.headers)
    tampered = got.body.replace(b"s1", b"s2")
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(tampered, got.headers)


def test_during_a_rotation_both_signatures_are_sent_and_each_verifies(
    webhook_receiver: Receiver,
) -> None:
    old, new = new_secret(), new_secret()
    with WebhookSender(LOOPBACK) as sender:
        assert sender.send(_message(webhook_receiver.url, (new, old))).delivered
    (got,) = webhook_receiver.wait_for(1)
    sigs = got.headers["webhook-signature"].split(" ")
    assert len(sigs) == 2 and all(s.startswith("v1,") for s in sigs)
    for secret in (old, new):
        Webhook(secret).verify(got.body, got.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(got.body, got.headers)


def test_the_signature_covers_id_timestamp_and_body() -> None:
    """The signed content is exactly `id.timestamp.body` (spec section 'Signature')."""
    import base64
    import hashlib
    import hmac

    secret = new_secret()
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    body = b'{"type":"webhook.test","timestamp":"x","data":{}}'
    h = headers_for((secret,), "msg_x", body, at=at)
    key = base64.b64decode(secret.removeprefix("whsec_"))
    expected = hmac.new(key, b"msg_x.%d." % int(at.timestamp()) + body, hashlib.sha256).digest()
    assert h["webhook-signature"] == "v1," + base64.b64encode(expected).decode()
    assert h["webhook-timestamp"] == str(int(at.timestamp()))


@pytest.mark.parametrize(("status", "outcome"), [
    (200, "delivered"), (201, "delivered"), (299, "delivered"),
    (410, "gone"), (400, "failed"), (404, "failed"), (429, "failed"), (500, "failed"),
    (503, "failed"),
])
def test_outcomes_by_status(webhook_receiver: Receiver, status: int, outcome: str) -> None:
    webhook_receiver.default = Reply(status=status)
    with WebhookSender(LOOPBACK) as sender:
        result = sender.send(_message(webhook_receiver.url, (new_secret(),)))
    assert result.outcome == outcome
    assert result.status_code == status
    assert (result.error is None) == (outcome == "delivered")
    if outcome != "delivered":
        assert str(status) in (result.error or "")


def test_redirects_are_not_followed(webhook_receiver: Receiver) -> None:
    webhook_receiver.script = [Reply(302, {"location": webhook_receiver.url + "/elsewhere"})]
    with WebhookSender(LOOPBACK) as sender:
        result = sender.send(_message(webhook_receiver.url, (new_secret(),)))
    assert result.outcome == "failed" and result.status_code == 302
    assert "redirects are not followed" in (result.error or "")
    time.sleep(0.2)
    assert [r.path for r in webhook_receiver.received] == ["/hook"]


@pytest.mark.parametrize("form", ["seconds", "date"])
def test_retry_after_is_read_from_the_answer(webhook_receiver: Receiver, form: str) -> None:
    value = "120" if form == "seconds" else format_datetime(
        datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    webhook_receiver.script = [Reply(503, {"retry-after": value})]
    with WebhookSender(LOOPBACK) as sender:
        result = sender.send(_message(webhook_receiver.url, (new_secret(),)))
    assert result.outcome == "failed"
    assert result.retry_after_seconds is not None
    assert 115 <= result.retry_after_seconds <= 121


def test_a_slow_receiver_times_out(webhook_receiver: Receiver) -> None:
    webhook_receiver.script = [Reply(200, delay=3.0)]
    started = time.monotonic()
    with WebhookSender(LOOPBACK, timeout=0.5) as sender:
        result = sender.send(_message(webhook_receiver.url, (new_secret(),)))
    assert time.monotonic() - started < 2.5
    assert result.outcome == "failed" and result.error == "no answer within 0.5 s"
    assert 400 <= result.duration_ms < 2500


def test_nothing_listening_is_a_connection_failure() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: connections are refused
        with WebhookSender(LOOPBACK) as sender:
            result = sender.send(_message(f"http://127.0.0.1:{port}/hook", (new_secret(),)))
    assert result.outcome == "failed"
    assert result.error == "the receiver refused the connection"


def test_only_an_excerpt_of_a_large_answer_is_read(webhook_receiver: Receiver) -> None:
    webhook_receiver.script = [Reply(500, body=b"x" * 5_000_000)]
    with WebhookSender(LOOPBACK) as sender:
        result = sender.send(_message(webhook_receiver.url, (new_secret(),)))
    assert result.status_code == 500 and len(result.response_excerpt) <= 1024 * 64
    assert result.response_excerpt.startswith("xxxx")


def test_the_body_is_compact_json_and_bounded() -> None:
    body = event_body("episode.completed", datetime(2026, 1, 1, tzinfo=UTC),
                      {"title": "Größe ✓", "n": 1})
    assert json.loads(body) == {"type": "episode.completed",
                                "timestamp": "2026-01-01T00:00:00.000Z",
                                "data": {"title": "Größe ✓", "n": 1}}
    assert b" " not in body.replace("Größe ✓".encode(), b"")
    with pytest.raises(PayloadTooLarge):
        event_body("episode.completed", datetime.now(UTC), {"x": "a" * MAX_BODY_BYTES})
    with pytest.raises(ValueError):
        event_body("episode.completed", datetime.now(UTC), {"x": float("nan")})


def test_the_default_schedule_is_the_one_in_the_issue() -> None:
    assert Settings().webhook_retry_schedule == (0, 5, 300, 1800, 7200, 18000, 36000, 36000)
    assert parse_durations(DEFAULT_WEBHOOK_RETRY_SCHEDULE) == Settings().webhook_retry_schedule


def test_the_schedule_setting_takes_seconds_for_tests(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAPEWORKS_WEBHOOK_RETRY_SCHEDULE", "0, 0.2, 500ms, 1.5s, 2m")
    assert Settings().webhook_retry_schedule == (0.0, 0.2, 0.5, 1.5, 120.0)
    monkeypatch.setenv("TAPEWORKS_WEBHOOK_RETRY_SCHEDULE", "0,soon")
    with pytest.raises(ValueError, match="'soon' is not a duration"):
        Settings()


def test_next_delay_follows_the_schedule_with_jitter() -> None:
    schedule = RetrySchedule(parse_durations(DEFAULT_WEBHOOK_RETRY_SCHEDULE))
    assert schedule.attempts == 8
    no_jitter = [schedule.next_delay(n, rng=lambda a, b: 0.0) for n in range(9)]
    assert no_jitter == [0, 5, 300, 1800, 7200, 18000, 36000, 36000, None]
    highs = [schedule.next_delay(n, rng=lambda a, b: b) for n in range(8)]
    lows = [schedule.next_delay(n, rng=lambda a, b: a) for n in range(8)]
    assert highs[1] == pytest.approx(5.5) and lows[1] == pytest.approx(4.5)
    assert highs[0] == lows[0] == 0.0  # "immediately" stays immediate
    import random

    rng = random.Random(7)
    spread = {round(schedule.next_delay(2, rng=rng.uniform) or 0, 3) for _ in range(50)}
    assert len(spread) > 40 and all(270 <= d <= 330 for d in spread)


def test_retry_after_pushes_the_next_attempt_later_but_not_past_a_day() -> None:
    schedule = RetrySchedule((0, 5, 300))
    assert schedule.next_delay(1, retry_after=120, rng=lambda a, b: 0.0) == 120
    assert schedule.next_delay(2, retry_after=120, rng=lambda a, b: 0.0) == 300
    assert schedule.next_delay(1, retry_after=10**9, rng=lambda a, b: 0.0) == \
        MAX_RETRY_AFTER_SECONDS
    assert schedule.next_delay(3, retry_after=1) is None


def test_parse_retry_after_forms() -> None:
    now = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    assert parse_retry_after("30", now=now) == 30
    assert parse_retry_after(format_datetime(now + timedelta(minutes=2), usegmt=True),
                             now=now) == 120
    assert parse_retry_after(format_datetime(now - timedelta(minutes=2), usegmt=True),
                             now=now) == 0
    assert parse_retry_after("soon", now=now) is None
    assert parse_retry_after(None) is None
    assert parse_retry_after("-5") is None
