"""SSRF guard: webhooks reach public addresses only, and only the address that was checked.

A webhook URL is the user's input, and our server sends requests to it. Without a guard
a user could make the server call its own loopback services, the private network behind
it, or the cloud metadata endpoint (credentials). The guard:

* refuses URLs that are not ``http``/``https`` or carry no host;
* resolves the host and refuses it when ANY address it resolves to is loopback, private,
  link-local, a cloud metadata address, unique-local, multicast, unspecified or otherwise
  not globally routable (IPv4 and IPv6; IPv4 addresses embedded in IPv6 - mapped
  ``::ffff:a.b.c.d``, NAT64 ``64:ff9b::/96``, 6to4 ``2002::/16`` - are unwrapped and checked
  as IPv4);
* connects to exactly the addresses it checked (`GuardedBackend` is the network backend of
  the HTTP connection pool), so a DNS answer that changes between the check and the
  connection (DNS rebinding) cannot reach a refused address. TLS still verifies the
  certificate against the URL's host name.

`allow_private=True` (``TAPEWORKS_WEBHOOK_ALLOW_PRIVATE=true``) lifts the address rules for
operators whose receivers live on their own network, and for tests on loopback.
"""

from __future__ import annotations

import ipaddress
import socket
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpcore

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]

# Cloud metadata services (AWS/GCP/Azure/OpenStack, AWS IPv6, ECS task metadata, Alibaba).
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "fd00:ec2::254", "169.254.170.2", "100.100.100.200")
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_UNIQUE_LOCAL = ipaddress.IPv6Network("fc00::/7")
_LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")  # RFC 8215, local use


class AddressRefused(Exception):
    """The URL may not be contacted. `reason` is in the user's words (no resolved address)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    return None


def address_problem(ip: IPAddress) -> str | None:
    """Why `ip` must not be contacted, or None for a public unicast address."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id:
            return "a link-local address"
        inner = _embedded_ipv4(ip)
        if inner is not None:
            return address_problem(inner)
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_loopback:
        return "a loopback address"
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if isinstance(ip, ipaddress.IPv6Address) and ip in _UNIQUE_LOCAL:
        return "a unique-local address"
    if ip.is_private or (isinstance(ip, ipaddress.IPv6Address) and ip in _LOCAL_NAT64):
        return "a private or reserved network address"
    if not ip.is_global:
        return "an address that is not publicly routable"
    return None


def system_resolver(host: str, port: int) -> list[str]:
    """Every address `host` resolves to, in the resolver's order, without duplicates."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: list[str] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        addr = str(sockaddr[0])
        if addr not in seen:
            seen.append(addr)
    return seen


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int


def parse_target(url: str) -> Target:
    """Scheme, host and port of a webhook URL, or `AddressRefused` saying what is wrong."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise AddressRefused("the URL is not valid (check the host and port)") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise AddressRefused("the URL must start with http:// or https://")
    if not parts.hostname:
        raise AddressRefused("the URL has no host name")
    if parts.username is not None or parts.password is not None:
        raise AddressRefused("the URL may not contain a user name or password")
    return Target(scheme, parts.hostname, port or (443 if scheme == "https" else 80))


@dataclass(frozen=True)
class AddressPolicy:
    """Which addresses outgoing webhook requests may reach, and how names are resolved."""

    allow_private: bool = False
    resolver: Resolver = field(default=system_resolver)

    def resolve(self, host: str, port: int) -> list[str]:
        """The addresses to connect to for `host`: all checked, or `AddressRefused`."""
        host = host.strip("[]")
        try:
            literal: IPAddress | None = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if literal is not None:
            addresses = [str(literal)]
        else:
            try:
                addresses = self.resolver(host, port)
            except (OSError, UnicodeError) as exc:
                raise AddressRefused("the host name could not be resolved") from exc
            if not addresses:
                raise AddressRefused("the host name could not be resolved")
        if not self.allow_private:
            for addr in addresses:
                problem = address_problem(ipaddress.ip_address(addr))
                if problem is not None:
                    what = "is" if literal is not None else "resolves to"
                    raise AddressRefused(
                        f"the URL {what} {problem}, which webhooks may not reach"
                    )
        return addresses

    def check_url(self, url: str) -> Target:
        """Refuse a URL at registration (and before each delivery) that may not be reached."""
        target = parse_target(url)
        self.resolve(target.host, target.port)
        return target


class GuardedBackend(httpcore.NetworkBackend):
    """An httpcore network backend that resolves and checks, then connects to the checked
    address itself. Nothing else in the connection pool opens a socket."""

    def __init__(self, policy: AddressPolicy, inner: httpcore.NetworkBackend | None = None) -> None:
        self.policy = policy
        self.inner = inner or httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[typing.Any] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = self.policy.resolve(host, port)  # raises before any socket exists
        last: Exception | None = None
        for addr in addresses:
            try:
                return self.inner.connect_tcp(
                    addr, port, timeout=timeout, local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[typing.Any] | None = None,
    ) -> httpcore.NetworkStream:
        raise AddressRefused("webhooks are sent over TCP only")

    def sleep(self, seconds: float) -> None:
        self.inner.sleep(seconds)
