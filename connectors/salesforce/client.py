"""The REST client every Salesforce operation goes through.

Why not `Salesforce.restful`: simple-salesforce re-logs in on 401 behind our back (uncounted,
unlimited) and raises its own exception types. Here every request, including the login, runs
inside the connector's `call` (rate limiter + call count), a 401 INVALID_SESSION_ID re-logs in
exactly once, and statuses are mapped through syncer.http's one classification table.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable
from typing import Any, TypeVar
from urllib.parse import quote

import requests

from syncer.errors import CredentialRefused, FatalError, RejectedError, RetryableError
from syncer.http import Action, classify, parse_retry_after, retryable_from_transport
from syncer.secrets import masked_cut
from syncer.values import to_json

from .auth import build_session, can_refresh, login
from .settings import SalesforceSettings

T = TypeVar("T")
Caller = Callable[[Callable[[], Any]], Any]
USAGE = re.compile(r"api-usage=(\d+)/(\d+)")
MAX_QUERY_CHARS = 12_000  # keep GET query URLs well under Salesforce's 16 KB URI limit


class SalesforceClient:
    """Authenticated JSON/CSV requests against `/services/data/vXX.X/`, safe to share across threads."""

    def __init__(self, settings: SalesforceSettings, call: Caller, pool_size: int = 10) -> None:
        self.settings = settings
        self._call = call
        self.session = build_session(settings, pool_size)
        self._lock = threading.Lock()
        self._token: str | None = None
        self._base = ""
        self.api_usage: tuple[int, int] | None = None

    @property
    def data_url(self) -> str:
        return f"{self._base}/services/data/v{self.settings.api_version}/"

    def _login(self, stale: str | None) -> str:
        with self._lock:
            if self._token is None or self._token == stale:
                self._token, self._base = self._call(lambda: login(self.settings, self.session))
            assert self._token is not None
            return self._token

    def request(self, method: str, path: str, what: str, **kwargs: Any) -> requests.Response:
        """Send one request; refresh an expired session once; raise the syncer error it stands for."""
        token = self._token or self._login(None)
        extra = kwargs.pop("headers", {})
        if "json" in kwargs:  # exact numbers (Decimal as a plain JSON number), never NaN/Infinity
            kwargs["data"] = to_json(kwargs.pop("json")).encode()
            extra = {"Content-Type": "application/json", **extra}
        response = self._send(method, path, token, what, extra, kwargs)
        if response.status_code == 401 and error_code(response) == "INVALID_SESSION_ID":
            if not can_refresh(self.settings):
                raise CredentialRefused(
                    what,
                    "HTTP 401 INVALID_SESSION_ID (the session expired; auth 'session' cannot log in again)",
                    status=401,
                )
            response = self._send(method, path, self._login(token), what, extra, kwargs)
            if response.status_code == 401:
                raise CredentialRefused(
                    what,
                    f"HTTP 401 {error_code(response) or ''} right after a fresh login".replace("  ", " "),
                    status=401,
                )
        self._raise_for(response, what)
        return response

    def _send(
        self, method: str, path: str, token: str, what: str, extra: dict[str, str], kwargs: dict[str, Any]
    ) -> requests.Response:
        self._check_reserve(what)
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json", **extra}
        url = path if path.startswith("https://") else self.data_url + path.lstrip("/")

        def go() -> requests.Response:
            response: requests.Response = self.session.request(
                method, url, headers=headers, timeout=self.settings.timeout, **kwargs
            )
            return response

        try:
            response: requests.Response = self._call(go)
        except (requests.Timeout, requests.ConnectionError) as exc:
            raise retryable_from_transport(exc, what, url) or RetryableError(
                f"{what}: {type(exc).__name__}: {exc}"
            ) from exc
        match = USAGE.search(response.headers.get("Sforce-Limit-Info", ""))
        if match:
            self.api_usage = (int(match.group(1)), int(match.group(2)))
        return response

    def _check_reserve(self, what: str) -> None:
        usage, reserve = self.api_usage, self.settings.api_reserve
        if reserve and usage and usage[1] - usage[0] <= reserve:
            raise FatalError(
                f"{what}: stopping before the Salesforce daily API quota runs out "
                f"(api-usage {usage[0]}/{usage[1]}, api_reserve {reserve}); unsynced records wait for the next run"
            )

    def _raise_for(self, response: requests.Response, what: str) -> None:
        status = response.status_code
        if status == 403 and error_code(response) == "REQUEST_LIMIT_EXCEEDED":
            raise request_limit_error(what, detail(response), self.api_usage)
        if status in (401, 403):  # INVALID_SESSION_ID; API_DISABLED_FOR_ORG, INSUFFICIENT_ACCESS ...
            code = error_code(response)
            raise CredentialRefused(what, f"HTTP {status}{f' {code}' if code else ''}", status == 403, status)
        action = classify(status)
        if action is Action.OK:
            return
        message = f"{what}: HTTP {status} {detail(response)}"
        if action is Action.RETRY:
            error = RetryableError(message, parse_retry_after(response.headers.get("Retry-After")))
            error.throttled = status == 429  # type: ignore[attr-defined]
            raise error
        if action is Action.FATAL:
            raise FatalError(message)
        raise RejectedError(message)

    def json(self, method: str, path: str, what: str, **kwargs: Any) -> Any:
        response = self.request(method, path, what, **kwargs)
        return response.json() if response.content else None

    def query(self, soql: str, what: str = "query") -> list[dict[str, Any]]:
        """Run a SOQL query and follow `nextRecordsUrl` until every row is read."""
        page = self.json("GET", "query", what, params={"q": soql})
        rows: list[dict[str, Any]] = list(page["records"])
        while not page.get("done", True) and page.get("nextRecordsUrl"):
            page = self.json("GET", self._base + page["nextRecordsUrl"], what)
            rows.extend(page["records"])
        return rows

    def query_in(self, select: str, obj: str, field: str, values: Iterable[str], what: str) -> list[dict[str, Any]]:
        """`SELECT ... WHERE field IN (...)` over any number of values, chunked to short URLs."""
        rows: list[dict[str, Any]] = []
        chunk: list[str] = []
        size = 0
        for value in dict.fromkeys(values):
            literal = soql_literal(value)
            if chunk and size + len(quote(literal)) > MAX_QUERY_CHARS:
                rows += self.query(f"SELECT {select} FROM {obj} WHERE {field} IN ({','.join(chunk)})", what)
                chunk, size = [], 0
            chunk.append(literal)
            size += len(quote(literal)) + 1
        if chunk:
            rows += self.query(f"SELECT {select} FROM {obj} WHERE {field} IN ({','.join(chunk)})", what)
        return rows

    def close(self) -> None:
        self.session.close()


def request_limit_error(what: str, detail: str, usage: tuple[int, int] | None) -> FatalError | RetryableError:
    """403 REQUEST_LIMIT_EXCEEDED is several limits under one code ("API Request Limits and Allocations"): the
    org's 24-hour allocation ("TotalRequests Limit exceeded.": fatal, nothing can succeed until usage rolls off)
    and the concurrent long-running request limit ("ConcurrentPerOrgLongTxn Limit exceeded.", "ConcurrentRequests
    ... Limit exceeded.": new requests are refused only until fewer run, so retried with backoff, like
    UNABLE_TO_LOCK_ROW). Another message is told apart by the latest Sforce-Limit-Info api-usage (`usage`, read
    from this answer when it carries one): below the allocation it is another per-period limit (retried), at it
    or unknown the daily quota (fatal: stopping loses nothing)."""
    shown = f"api-usage {usage[0]}/{usage[1]}" if usage else "usage unknown"
    daily = "TotalRequests" in detail or ("Concurrent" not in detail and (usage is None or usage[0] >= usage[1]))
    if daily:
        return FatalError(
            f"Salesforce daily API quota exhausted ({shown}): {detail}; nothing was lost, "
            "unsynced records wait for the next run"
        )
    limit = "concurrent long-running request limit" if "Concurrent" in detail else "a request limit"
    return RetryableError(f"{what}: Salesforce {limit} reached, not the daily quota ({shown}): {detail}")


def soql_literal(value: str) -> str:
    """A SOQL string literal: backslash and quote escaped."""
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def error_code(response: requests.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    if isinstance(body, list) and body and isinstance(body[0], dict):
        return str(body[0].get("errorCode"))
    return None


def detail(response: requests.Response, limit: int = 300) -> str:
    """Salesforce's own `errorCode: message` when the body has it, else the raw text."""
    try:
        body = response.json()
    except ValueError:
        return masked_cut(response.text, limit)
    if isinstance(body, list) and body and isinstance(body[0], dict) and "errorCode" in body[0]:
        return masked_cut("; ".join(f"{e.get('errorCode')}: {e.get('message')}" for e in body), limit)
    return masked_cut(response.text, limit)
