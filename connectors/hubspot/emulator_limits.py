"""HubSpot's API limits as the emulator enforces them: a rolling ten-second window and a daily count.

The headers and the 429 body follow what HubSpot sends, so the connector's header-driven limiter
and its 429 handling are exercised for real. Time comes from the emulator's injectable clock.
"""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

PLAN_LIMITS = {
    "starter": (100, 250_000),
    "pro": (190, 625_000),
    "enterprise": (190, 1_000_000),
    "increase": (250, 1_000_000),
}


@dataclass
class Verdict:
    allowed: bool
    headers: dict[str, str]
    body: dict[str, Any] | None = None


@dataclass
class RollingLimit:
    """At most `max_calls` requests in any `interval_ms` window, plus `daily` per calendar day."""

    clock: Callable[[], float]
    max_calls: int = 100
    interval_ms: int = 10_000
    daily: int = 250_000
    rejected: int = 0
    _sent: deque[float] = field(default_factory=deque)
    _day: int = -1
    _day_count: int = 0

    @classmethod
    def for_plan(cls, plan: str, clock: Callable[[], float]) -> RollingLimit:
        per_ten, daily = PLAN_LIMITS[plan]
        return cls(clock, per_ten, 10_000, daily)

    def admit(self) -> Verdict:
        """Count one request if it fits; otherwise say 429 with HubSpot's body."""
        now = self.clock()
        day = int(now // 86_400)
        if day != self._day:
            self._day, self._day_count = day, 0
        window_start = now - self.interval_ms / 1000
        while self._sent and self._sent[0] <= window_start:
            self._sent.popleft()
        if self._day_count >= self.daily:
            self.rejected += 1
            return Verdict(False, self.headers(), self._body("DAILY", "You have reached your daily limit."))
        if len(self._sent) >= self.max_calls:
            self.rejected += 1
            return Verdict(
                False,
                self.headers(),
                self._body("TEN_SECONDLY_ROLLING", "You have reached your ten_secondly_rolling limit."),
            )
        self._sent.append(now)
        self._day_count += 1
        return Verdict(True, self.headers())

    def headers(self) -> dict[str, str]:
        return {
            "X-HubSpot-RateLimit-Max": str(self.max_calls),
            "X-HubSpot-RateLimit-Remaining": str(max(0, self.max_calls - len(self._sent))),
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(self.interval_ms),
            "X-HubSpot-RateLimit-Daily": str(self.daily),
            "X-HubSpot-RateLimit-Daily-Remaining": str(max(0, self.daily - self._day_count)),
        }

    @staticmethod
    def _body(policy: str, message: str) -> dict[str, Any]:
        return {
            "status": "error",
            "message": message,
            "errorType": "RATE_LIMIT",
            "correlationId": str(uuid.uuid4()),
            "policyName": policy,
            "category": "RATE_LIMITS",
            "links": {"api key": "https://app.hubspot.com/l/api-key/"},
        }
