"""Time left for a running job, shown only once it can be trusted (issue 11).

The naive estimate (elapsed / progress * rest) jumps: a job that spends its first seconds
loading a model says "about 0:00 left" at 3 %, then "about 4:41 left", then finishes in
23 s. `EtaEstimator` instead

* measures the rate of progress over a sliding window of recent samples (so a slow start,
  such as loading a model, does not weigh on the rest of the run);
* says nothing until it is stable: at least `min_progress` % done, `min_seconds` of
  samples in the window, and the last `agree` raw estimates within `tolerance` of each
  other;
* once shown, counts down with the clock and follows new estimates only within a factor
  of two of where the countdown stands: an update never jumps by more than 2x.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field


@dataclass
class EtaEstimator:
    window_seconds: float = 12.0
    min_seconds: float = 4.0
    min_progress: float = 3.0
    agree: int = 3
    tolerance: float = 0.35
    max_factor: float = 2.0
    _samples: deque[tuple[float, float]] = field(default_factory=deque)
    _raw: deque[float] = field(default_factory=deque)
    _shown: float | None = None
    _shown_at: float = 0.0

    def update(self, elapsed: float, progress: float) -> float | None:
        """Feed (seconds since the start, percentage done); returns the seconds left to
        show, or None while there is no trustworthy estimate."""
        samples = self._samples
        if samples and elapsed <= samples[-1][0]:
            return self.current(elapsed)
        samples.append((elapsed, progress))
        while len(samples) > 2 and elapsed - samples[1][0] >= self.window_seconds:
            samples.popleft()
        raw = self._raw_estimate(progress)
        if raw is None:
            return self.current(elapsed)
        self._raw.append(raw)
        while len(self._raw) > self.agree:
            self._raw.popleft()
        if self._shown is None:
            if not self._stable(progress):
                return None
            self._shown, self._shown_at = raw, elapsed
            return round(raw, 1)
        counting = max(0.0, self._shown - (elapsed - self._shown_at))
        floor = counting / self.max_factor
        ceiling = max(counting * self.max_factor, 1.0)
        self._shown = min(max(raw, floor), ceiling)
        self._shown_at = elapsed
        return round(self._shown, 1)

    def current(self, elapsed: float) -> float | None:
        """The shown estimate counted down to `elapsed` (None if none is shown yet)."""
        if self._shown is None:
            return None
        return round(max(0.0, self._shown - (elapsed - self._shown_at)), 1)

    def _raw_estimate(self, progress: float) -> float | None:
        (t0, p0), (t1, p1) = self._samples[0], self._samples[-1]
        if t1 - t0 <= 0 or p1 <= p0:
            return None
        rate = (p1 - p0) / (t1 - t0)  # percent per second
        if not rate > 0.0:  # progress too small to measure (underflows to zero)
            return None
        left = (100.0 - progress) / rate
        if not math.isfinite(left):
            return None
        return max(0.0, left)

    def _stable(self, progress: float) -> bool:
        span = self._samples[-1][0] - self._samples[0][0]
        if progress < self.min_progress or span < self.min_seconds or len(self._raw) < self.agree:
            return False
        lo, hi = min(self._raw), max(self._raw)
        return hi <= lo * (1 + self.tolerance) + 1.0
