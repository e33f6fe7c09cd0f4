"""Hosts made of Linux network namespaces, for tests that need several machines.

`Lan` builds one bridge in the test's own namespace and, per host, a namespace joined to
the bridge by a veth pair (`10.<n>.<m>.<k>/24`). The test process itself is on the bridge
(address `.1`), so it reaches every host; hosts reach each other. `Lan.close()` kills every
process left in the namespaces and deletes them and the bridge, also when the test failed.

Needs root (CI runs as root). Without it the fixture fails with the reason: never a skip.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True)


def can_build_namespaces() -> str | None:
    """None when namespaces can be built here, otherwise why not."""
    if os.geteuid() != 0:
        return "network namespaces need root (CI runs the tests as root)"
    if shutil.which("ip") is None:
        return "the `ip` command (Debian package iproute2) is missing"
    return None


@dataclass
class Host:
    name: str       # the namespace
    address: str    # its address on the LAN
    veth: str       # the veth end in the test's namespace (down = link cut)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def popen(self, argv: list[str], *, env: dict[str, str] | None = None,
              log: Path | None = None, user: str | None = None) -> subprocess.Popen[bytes]:
        """Start `argv` inside this host's namespace (as `user` when given)."""
        prefix = ["ip", "netns", "exec", self.name]
        if user is not None:
            prefix += ["runuser", "-u", user, "--"]
        out = log.open("ab") if log is not None else subprocess.DEVNULL
        proc = subprocess.Popen([*prefix, *argv], env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
        self.procs.append(proc)
        return proc

    def run(self, argv: list[str], *, env: dict[str, str] | None = None, user: str | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
        prefix = ["ip", "netns", "exec", self.name]
        if user is not None:
            prefix += ["runuser", "-u", user, "--"]
        return subprocess.run([*prefix, *argv], env=env, capture_output=True, text=True,
                              timeout=timeout, check=False)

    def pids(self) -> list[int]:
        out = _ip("netns", "pids", self.name, check=False).stdout
        return [int(p) for p in out.split()]

    def kill_all(self) -> None:
        """SIGKILL every process in this host (a machine losing power)."""
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for proc in self.procs:
            with contextlib.suppress(Exception):
                proc.wait(5)

    def link(self, up: bool) -> None:
        """Cut (or restore) this host's only network link."""
        _ip("link", "set", self.veth, "up" if up else "down")


class Lan:
    def __init__(self) -> None:
        tag = f"{os.getpid() % 10000}{random.randrange(100):02d}"
        self.tag = tag
        self.bridge = f"twbr{tag}"[:15]
        self.prefix = f"10.{random.randrange(100, 250)}.{random.randrange(1, 250)}"
        self.hosts: dict[str, Host] = {}
        _ip("link", "add", self.bridge, "type", "bridge")
        _ip("addr", "add", f"{self.prefix}.1/24", "dev", self.bridge)
        _ip("link", "set", self.bridge, "up")

    @property
    def gateway(self) -> str:
        return f"{self.prefix}.1"

    def add_host(self, label: str) -> Host:
        n = len(self.hosts) + 10
        name = f"tw{self.tag}{label}"
        outer, inner = f"tw{self.tag}{n}o"[:15], f"tw{self.tag}{n}i"[:15]
        address = f"{self.prefix}.{n}"
        _ip("netns", "add", name)
        try:
            _ip("link", "add", outer, "type", "veth", "peer", "name", inner)
            _ip("link", "set", inner, "netns", name)
            _ip("link", "set", outer, "master", self.bridge)
            _ip("link", "set", outer, "up")
            for args in (["addr", "add", f"{address}/24", "dev", inner],
                         ["link", "set", inner, "up"], ["link", "set", "lo", "up"]):
                _ip("netns", "exec", name, "ip", *args)
        except subprocess.CalledProcessError:
            _ip("netns", "del", name, check=False)
            raise
        host = Host(name, address, outer)
        self.hosts[label] = host
        return host

    def close(self) -> None:
        for host in self.hosts.values():
            with contextlib.suppress(Exception):
                host.kill_all()
            with contextlib.suppress(Exception):
                _ip("link", "del", host.veth, check=False)
            _ip("netns", "del", host.name, check=False)
        _ip("link", "del", self.bridge, check=False)


def wait_until(what: str, fn: object, timeout: float, interval: float = 0.2) -> object:
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            last = fn()  # type: ignore[operator]
        except Exception as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(interval)
    raise TimeoutError(f"timed out waiting for {what} (last: {last!r})")
