"""`tapeworks worker`: job consumers in their own process."""

from __future__ import annotations

from tapeworks.config import Settings
from tapeworks.runtime import Runtime, set_current_runtime


def run_worker(settings: Settings, *, threads: int = 2) -> None:
    rt = Runtime(settings)
    set_current_runtime(rt)
    try:
        rt.queue.run_forever(threads)
    finally:
        rt.close()
