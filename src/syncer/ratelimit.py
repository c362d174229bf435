"""Client-side rate limiting, so syncer stays under a destination's limit before it says 429."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class RateLimit:
    """At most `calls` requests in any window of `per_seconds`."""

    calls: int
    per_seconds: float

    @property
    def interval(self) -> float:
        return self.per_seconds / self.calls


class RateLimiter:
    """A sliding-window limiter shared by every worker thread of one connector.

    Sliding windows (not token buckets) because the services we talk to count requests in fixed
    or sliding windows of N seconds: a token bucket that starts full could burst 2N in one window.
    `clock` and `sleep` are injectable so tests never wait for real.
    """

    def __init__(
        self,
        limit: RateLimit | None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._limit = limit
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._sent: list[float] = []
        self._blocked_until = 0.0

    @property
    def limit(self) -> RateLimit | None:
        return self._limit

    def set_limit(self, limit: RateLimit) -> None:
        """Correct the limit from what the server reports (e.g. X-HubSpot-RateLimit-Max)."""
        with self._lock:
            self._limit = limit

    def sync_used(self, used: int) -> None:
        """The server says `used` calls are already in its current window, e.g. made by the previous
        process, whose calls this new limiter never saw. Count the missing ones as made just now: they
        leave the window one full interval from now at the latest (the safe side), so the first
        batches of a run never exceed what the destination still allows."""
        with self._lock:
            if self._limit is None:
                return
            now = self._clock()
            window_start = now - self._limit.per_seconds
            self._sent = [t for t in self._sent if t > window_start]
            missing = used - len(self._sent)
            if missing > 0:
                self._sent = sorted(self._sent + [now] * missing)

    def block_for(self, seconds: float) -> None:
        """Hold every caller back, e.g. after a 429 with Retry-After."""
        with self._lock:
            self._blocked_until = max(self._blocked_until, self._clock() + seconds)

    def acquire(self) -> float:
        """Wait until one more request fits in the window; return the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                delay = self._blocked_until - now
                if delay <= 0 and self._limit is not None:
                    window_start = now - self._limit.per_seconds
                    self._sent = [t for t in self._sent if t > window_start]
                    if len(self._sent) >= self._limit.calls:
                        delay = self._sent[0] - window_start
                if delay <= 0:
                    self._sent.append(now)
                    return waited
            self._sleep(delay)
            waited += delay
