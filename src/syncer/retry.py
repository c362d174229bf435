"""Retry policy as data (attempts, waits), executed by tenacity. Tests set the waits to zero."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import tenacity

from syncer.errors import RetryableError


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, capped at `max_wait`; a server's Retry-After wins.

    A Retry-After longer than `max_retry_after` is not waited out inside the run: the records are
    left failed and the next run picks them up, so a sync never hangs for an hour on one hint.
    """

    max_attempts: int = 6
    initial_wait: float = 1.0
    max_wait: float = 60.0
    max_retry_after: float = 300.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)

    def wait_seconds(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        hint = getattr(exc, "retry_after", None)
        if hint is not None:
            return float(min(hint, self.max_retry_after))
        backoff = tenacity.wait_exponential_jitter(initial=self.initial_wait, max=self.max_wait)
        return float(backoff(state)) if self.max_wait > 0 else 0.0

    def retrying(self, on_retry: Callable[[BaseException], None] | None = None) -> tenacity.Retrying:
        def before_sleep(state: tenacity.RetryCallState) -> None:
            if on_retry and state.outcome is not None and state.outcome.exception() is not None:
                on_retry(state.outcome.exception())  # type: ignore[arg-type]

        return tenacity.Retrying(
            stop=tenacity.stop_any(tenacity.stop_after_attempt(self.max_attempts), _LongHint(self.max_retry_after)),
            wait=self.wait_seconds,
            retry=tenacity.retry_if_exception_type(RetryableError),
            sleep=self.sleep,
            before_sleep=before_sleep,
            reraise=True,
        )

    def run(self, fn: Callable[[], Any], on_retry: Callable[[BaseException], None] | None = None) -> Any:
        return self.retrying(on_retry)(fn)


def no_wait(max_attempts: int = 6) -> RetryPolicy:
    """A policy for tests: same attempts, no sleeping."""
    return RetryPolicy(max_attempts=max_attempts, initial_wait=0, max_wait=0, sleep=lambda _s: None)


class _LongHint(tenacity.stop.stop_base):
    """Stop when the server asks for a longer wait than a run should sit through."""

    def __init__(self, limit: float) -> None:
        self.limit = limit

    def __call__(self, state: tenacity.RetryCallState) -> bool:
        exc = state.outcome.exception() if state.outcome else None
        hint = getattr(exc, "retry_after", None)
        return hint is not None and hint > self.limit
