"""`prefetched`: items made on a thread of their own, in order, errors raised to the
consumer, and a consumer that stops early stops the producer (no thread left behind)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from tapeworks.audio.decode import prefetched


def _count(n: int, fail: bool = False, closed: list[int] | None = None) -> Iterator[int]:
    try:
        yield from range(n)
        if fail:
            raise ValueError("damaged")
    finally:
        if closed is not None:
            closed.append(1)


def test_items_arrive_in_order_made_on_another_thread() -> None:
    seen: list[str] = []

    def named() -> Iterator[int]:
        for i in range(50):
            seen.append(threading.current_thread().name)
            yield i

    assert list(prefetched(named(), depth=3)) == list(range(50))
    assert set(seen) == {"tapeworks-decode"}


def test_an_error_on_the_thread_is_raised_to_the_consumer_after_the_items() -> None:
    got: list[int] = []
    with pytest.raises(ValueError, match="damaged"):
        for i in prefetched(_count(4, fail=True)):
            got.append(i)
    assert got == [0, 1, 2, 3]


def test_a_consumer_that_stops_early_stops_the_producer() -> None:
    before = threading.active_count()
    closed: list[int] = []
    it = prefetched(_count(10**6, closed=closed))
    assert next(it) == 0
    it.close()
    assert closed == [1] and threading.active_count() == before
