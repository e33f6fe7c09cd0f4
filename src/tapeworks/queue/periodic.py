"""A daemon thread that runs one function every `interval` seconds (reconciler, purge)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from tapeworks.logging import get_logger

log = get_logger("tapeworks.periodic")


class PeriodicThread:
    """Calls `fn()` every `interval` seconds until stopped. A failing round is logged as
    `{event}_failed` and the next round tries again: the thread itself never dies."""

    def __init__(self, name: str, interval: float, fn: Callable[[], Any], *, event: str) -> None:
        self.name = name
        self.interval = interval
        self.fn = fn
        self.event = event
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.fn()
            except Exception as exc:  # logged; the next round runs anyway
                log.error(f"{self.event}_failed", error=f"{type(exc).__name__}: {exc}"[:300])
