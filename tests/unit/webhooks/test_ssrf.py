"""The SSRF guard refuses private, loopback, link-local and metadata addresses before any
connection exists, and connects only to the address it checked.

No test here sends a packet to a private or metadata address: every refused case runs
with a resolver stub and a socket stub that records (and refuses) any connection attempt.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field
from typing import Any

import pytest

from tapeworks.webhooks.delivery import Message, WebhookSender, event_body, new_secret
from tapeworks.webhooks.ssrf import AddressPolicy, AddressRefused, address_problem, parse_target
from tests.helpers.webhook_receiver import Receiver


@dataclass
class SocketStub:
    """Replaces every way of opening a TCP connection; records where it was asked to go."""

    attempts: list[Any] = field(default_factory=list)

    def create_connection(self, address: Any, *a: Any, **kw: Any) -> Any:
        self.attempts.append(address)
        raise ConnectionRefusedError(111, "Connection refused (socket stub)")

    def connect(self, sock: Any, address: Any) -> None:
        self.attempts.append(address)
        raise ConnectionRefusedError(111, "Connection refused (socket stub)")


@pytest.fixture
def sockets(monkeypatch: pytest.MonkeyPatch) -> SocketStub:
    stub = SocketStub()
    monkeypatch.setattr(socket, "create_connection", stub.create_connection)
    monkeypatch.setattr(socket.socket, "connect", stub.connect)
    monkeypatch.setattr(socket.socket, "connect_ex", stub.connect)
    return stub


class ResolverStub:
    def __init__(self, answers: dict[str, list[list[str]]]) -> None:
        self.answers = {k: list(v) for k, v in answers.items()}
        self.calls: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append(host)
        seq = self.answers.get(host)
        if not seq:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return seq.pop(0) if len(seq) > 1 else seq[0]


REFUSED_ADDRESSES = [
    ("127.0.0.1", "loopback"), ("127.8.9.10", "loopback"), ("::1", "loopback"),
    ("169.254.169.254", "metadata"), ("fd00:ec2::254", "metadata"),
    ("100.100.100.200", "metadata"), ("169.254.170.2", "metadata"),
    ("169.254.1.1", "link-local"), ("fe80::1", "link-local"),
    ("10.0.0.1", "private"), ("172.16.5.4", "private"), ("192.168.1.1", "private"),
    ("fc00::1", "unique-local"), ("fd12:3456::1", "unique-local"),
    ("224.0.0.1", "multicast"), ("239.255.255.250", "multicast"), ("ff02::1", "multicast"),
    ("0.0.0.0", "unspecified"), ("::", "unspecified"),
    ("::ffff:127.0.0.1", "loopback"), ("::ffff:169.254.169.254", "metadata"),
    ("::ffff:10.0.0.1", "private"), ("64:ff9b::a9fe:a9fe", "metadata"),
    ("64:ff9b::7f00:1", "loopback"), ("2002:7f00:1::1", "loopback"),
    ("2002:a00:1::1", "private"),
    ("100.64.0.1", "not publicly routable"), ("198.18.0.1", "reserved"),
    ("192.0.2.1", "reserved"), ("240.0.0.1", "reserved"), ("255.255.255.255", "reserved"),
    ("2001:db8::1", "reserved"), ("64:ff9b:1::1", "reserved"),
]


@pytest.mark.parametrize(("address", "kind"), REFUSED_ADDRESSES)
def test_address_problem_names_the_kind_of_address(address: str, kind: str) -> None:
    problem = address_problem(ipaddress.ip_address(address))
    assert problem is not None and kind in problem


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111",
                                     "::ffff:8.8.8.8", "64:ff9b::808:808"])
def test_public_unicast_addresses_pass(address: str) -> None:
    assert address_problem(ipaddress.ip_address(address)) is None


ISSUE_URLS = ["http://127.0.0.1/", "http://[::1]/", "http://169.254.169.254/",
              "http://10.0.0.1/", "http://loopback.example.test/"]


@pytest.mark.parametrize("url", ISSUE_URLS)
def test_registration_check_refuses_the_issue_list(url: str, sockets: SocketStub) -> None:
    resolver = ResolverStub({"loopback.example.test": [["127.0.0.1"]]})
    with pytest.raises(AddressRefused) as info:
        AddressPolicy(resolver=resolver).check_url(url)
    assert "webhooks may not reach" in info.value.reason
    assert sockets.attempts == []


@pytest.mark.parametrize("url", ISSUE_URLS)
def test_delivery_refuses_the_issue_list_before_any_connection(
    url: str, sockets: SocketStub
) -> None:
    resolver = ResolverStub({"loopback.example.test": [["127.0.0.1"]]})
    secret = new_secret()
    with WebhookSender(AddressPolicy(resolver=resolver)) as sender:
        result = sender.send(Message(url, "msg_1", event_body("webhook.test", _now(), {}),
                                     (secret,)))
    assert result.outcome == "failed"
    assert result.error is not None and result.error.startswith("not sent:")
    assert result.status_code is None
    assert sockets.attempts == []


def test_a_hostname_with_any_private_answer_is_refused(sockets: SocketStub) -> None:
    resolver = ResolverStub({"mixed.example.test": [["93.184.216.34", "10.1.2.3"]]})
    with pytest.raises(AddressRefused, match="resolves to a private or reserved network address"):
        AddressPolicy(resolver=resolver).check_url("https://mixed.example.test/hook")
    assert sockets.attempts == []


def test_dns_rebinding_is_caught_at_delivery(sockets: SocketStub) -> None:
    """Public at registration, loopback a moment later: the delivery resolves again,
    checks what it got and refuses before connecting."""
    resolver = ResolverStub({"rebind.example.test": [["93.184.216.34"], ["127.0.0.1"]]})
    policy = AddressPolicy(resolver=resolver)
    policy.check_url("http://rebind.example.test/hook")  # passes: public answer
    with WebhookSender(policy) as sender:
        result = sender.send(Message("http://rebind.example.test/hook", "msg_1",
                                     event_body("webhook.test", _now(), {}), (new_secret(),)))
    assert result.outcome == "failed" and "loopback" in (result.error or "")
    assert resolver.calls == ["rebind.example.test", "rebind.example.test"]
    assert sockets.attempts == []


def test_connection_goes_to_the_checked_address_only(sockets: SocketStub) -> None:
    """A public answer is connected to as that address (the stub refuses it, so nothing
    leaves the machine); the host name is never resolved a second time."""
    resolver = ResolverStub({"public.example.test": [["93.184.216.34"]]})
    with WebhookSender(AddressPolicy(resolver=resolver)) as sender:
        result = sender.send(Message("http://public.example.test:8080/hook", "msg_1",
                                     event_body("webhook.test", _now(), {}), (new_secret(),)))
    assert [a[0] for a in sockets.attempts] == ["93.184.216.34"]
    assert all(a[1] == 8080 for a in sockets.attempts)
    assert resolver.calls == ["public.example.test"]
    assert result.outcome == "failed" and result.error == "the receiver refused the connection"


def test_the_operator_switch_reaches_loopback_at_the_resolved_address(
    webhook_receiver: Receiver,
) -> None:
    """With allow_private the guard still connects to what it resolved: a made-up name
    that only our resolver knows reaches the loopback receiver, Host header intact."""
    port = webhook_receiver.server.server_address[1]
    resolver = ResolverStub({"receiver.example.test": [["127.0.0.1"]]})
    policy = AddressPolicy(allow_private=True, resolver=resolver)
    policy.check_url(f"http://receiver.example.test:{port}/hook")
    with WebhookSender(policy) as sender:
        result = sender.send(Message(f"http://receiver.example.test:{port}/hook", "msg_1",
                                     event_body("webhook.test", _now(), {}), (new_secret(),)))
    assert result.outcome == "delivered", result
    (got,) = webhook_receiver.wait_for(1)
    assert got.headers["host"] == f"receiver.example.test:{port}"


@pytest.mark.parametrize(("url", "words"), [
    ("ftp://example.com/x", "http:// or https://"),
    ("file:///etc/passwd", "http:// or https://"),
    ("gopher://127.0.0.1:6379/_", "http:// or https://"),
    ("http:///nohost", "no host"),
    ("https://user:pw@example.com/", "user name or password"),
    ("http://example.com:99999/", "not valid"),
])
def test_urls_that_are_not_plain_http_are_refused(url: str, words: str) -> None:
    with pytest.raises(AddressRefused, match=words):
        parse_target(url)


def test_an_unknown_host_is_refused_with_words(sockets: SocketStub) -> None:
    with pytest.raises(AddressRefused, match="could not be resolved"):
        AddressPolicy(resolver=ResolverStub({})).check_url("https://nowhere.example.test/")
    assert sockets.attempts == []


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)
