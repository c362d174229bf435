"""Every HubSpot request goes through here: auth, the runner's `call`, header feedback, error mapping.

The limiter starts from the plan tier and is corrected from the X-HubSpot-RateLimit-* headers of
every response, so a run keeps under the limit HubSpot actually applies (another app in the same
portal, or a mis-set plan tier, shows up there). A 429 still backs off: Retry-After when sent,
else the advertised interval; a 429 for the *daily* policy stops the sync (FatalError), since
waiting seconds cannot help before midnight.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import httpx

from syncer.errors import FatalError, RetryableError
from syncer.http import raise_for_response, retryable_from_transport, tls_context
from syncer.ratelimit import RateLimit, RateLimiter

T = TypeVar("T")
Call = Callable[[Callable[[], httpx.Response]], httpx.Response]

SEARCH_LIMIT = RateLimit(4, 1.0)  # CRM search: about 4-5 requests per second per token, separate bucket


def _header_int(headers: httpx.Headers, name: str) -> int | None:
    try:
        return int(headers[name])
    except (KeyError, ValueError):
        return None


class HubSpotApi:
    """A thin httpx client bound to one connector's `call` (rate limiter + call counting)."""

    def __init__(
        self,
        base_url: str,
        token: str,
        timeout: float,
        call: Call,
        limiter: RateLimiter,
        search_limiter: RateLimiter,
        margin: float = 0.25,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=timeout,
            transport=transport,
            verify=tls_context(),
        )
        self._call = call
        self.limiter = limiter
        self.search_limiter = search_limiter
        self.margin = margin
        self.interval = 10.0  # seconds; corrected by X-HubSpot-RateLimit-Interval-Milliseconds

    def close(self) -> None:
        self._http.close()

    def request(
        self,
        method: str,
        path: str,
        what: str,
        json: Any = None,
        params: dict[str, str] | None = None,
        search: bool = False,
    ) -> httpx.Response:
        """Send one request and return a 2xx response; raise the syncer error for anything else."""
        if search:
            self.search_limiter.acquire()
        try:
            response = self._call(lambda: self._http.request(method, path, json=json, params=params))
        except httpx.HTTPError as exc:
            retryable = retryable_from_transport(exc, what, str(self._http.base_url))
            if retryable is not None:
                raise retryable from exc
            raise FatalError(f"{what}: {type(exc).__name__}: {exc}") from exc
        self.observe(response.headers)
        if response.status_code == 429:
            self._raise_throttled(response, what)
        raise_for_response(response, what)
        return response

    def json(self, method: str, path: str, what: str, **kwargs: Any) -> dict[str, Any]:
        response = self.request(method, path, what, **kwargs)
        if response.status_code == 204 or not response.content:
            return {}
        body = response.json()
        return body if isinstance(body, dict) else {"results": body}

    def observe(self, headers: httpx.Headers) -> None:
        """Correct the limiter from what HubSpot says its limit and our remaining budget are."""
        max_calls = _header_int(headers, "X-HubSpot-RateLimit-Max")
        interval_ms = _header_int(headers, "X-HubSpot-RateLimit-Interval-Milliseconds")
        if max_calls and interval_ms:
            self.interval = interval_ms / 1000
            limit = RateLimit(max_calls, self.interval + self.margin)
            if self.limiter.limit != limit:
                self.limiter.set_limit(limit)
            remaining = _header_int(headers, "X-HubSpot-RateLimit-Remaining")
            if remaining is not None:  # calls already in HubSpot's window, ours and other processes'
                self.limiter.sync_used(max_calls - remaining)
            if remaining is not None and remaining <= 0:
                # The window is full (perhaps by other apps in the portal): pace by one slot, so
                # the next request does not arrive before HubSpot's window has moved on.
                self.limiter.block_for(self.interval / max_calls)

    def _raise_throttled(self, response: httpx.Response, what: str) -> None:
        try:
            body = response.json()
        except ValueError:
            body = {}
        policy = body.get("policyName") if isinstance(body, dict) else None
        if policy == "DAILY":
            raise FatalError(f"{what}: HubSpot daily API limit reached: {body.get('message')}")
        try:
            raise_for_response(response, what)
        except RetryableError as exc:
            if exc.retry_after is None:
                exc.retry_after = self.interval
            raise
