"""HTTP failure classification: one table from status or exception to what the runner does.

Every HTTP connector sends its responses through `raise_for_response` (or calls `classify`), so
429/5xx/timeouts are retried, 4xx record errors are rejections, and auth failures stop the sync,
the same way everywhere.
"""

from __future__ import annotations

import email.utils
import errno
import functools
import os
import re
import socket
import ssl
import time
from enum import Enum
from urllib.parse import urljoin, urlsplit

import httpx
import requests

from syncer.errors import CredentialRefused, DestinationUnreachable, FatalError, RejectedError, RetryableError
from syncer.secrets import masked_cut


def tls_context() -> ssl.SSLContext:
    """The verifying TLS context every httpx client of this process shares: what `httpx.Client()`
    builds by default (certifi's CA bundle, or $SSL_CERT_FILE / $SSL_CERT_DIR), loaded once per CA
    setting instead of once per client (measured: 40-48 ms a connector, paid by every plan and run).
    An `ssl.SSLContext` is safe to share between clients and threads."""
    return _tls_context(os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))


@functools.cache
def _tls_context(cert_file: str | None, cert_dir: str | None) -> ssl.SSLContext:
    return httpx.create_ssl_context()


class Action(Enum):
    RETRY = "retry"
    REJECT = "reject"
    FATAL = "fatal"
    OK = "ok"


# status -> action; anything not listed falls back by class (2xx ok, 5xx retry, 4xx reject).
STATUS_ACTIONS: dict[int, Action] = {
    401: Action.FATAL,  # credentials wrong or expired (connectors that can refresh do so first)
    403: Action.FATAL,  # forbidden / quota exhausted: retrying the same call cannot help today
    404: Action.FATAL,  # the endpoint or object does not exist: a configuration problem
    407: Action.FATAL,
    408: Action.RETRY,
    409: Action.RETRY,  # conflict / lock contention: usually clears
    423: Action.RETRY,
    425: Action.RETRY,
    429: Action.RETRY,
    # RFC 9110 15.4: the resource moved. Following it would send the signed body and the credential to another
    # address nobody configured, so no client here follows one: the configured URL is what must change
    **dict.fromkeys((301, 302, 303, 307, 308), Action.FATAL),
}
REDIRECTS = frozenset((301, 302, 303, 307, 308))

# transport exceptions -> action; timeouts and resets are ambiguous: the write may have landed,
# which is safe only because every write is idempotent.
EXCEPTION_ACTIONS: tuple[tuple[type[BaseException], Action], ...] = (
    (httpx.TimeoutException, Action.RETRY),
    (httpx.NetworkError, Action.RETRY),
    (httpx.RemoteProtocolError, Action.RETRY),
    (httpx.ProxyError, Action.RETRY),
    (requests.Timeout, Action.RETRY),  # simple-salesforce speaks requests
    (requests.ConnectionError, Action.RETRY),
    (ConnectionError, Action.RETRY),
    (TimeoutError, Action.RETRY),
)


def classify(status: int) -> Action:
    if status in STATUS_ACTIONS:
        return STATUS_ACTIONS[status]
    if 200 <= status < 300:
        return Action.OK
    if status >= 500:
        return Action.RETRY
    if 300 <= status < 400:
        return Action.REJECT  # Salesforce 300 Multiple Choices: the external ID matches several records
    return Action.REJECT


def classify_exception(exc: BaseException) -> Action | None:
    for kind, action in EXCEPTION_ACTIONS:
        if isinstance(exc, kind):
            return action
    return None


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Retry-After as seconds: either delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    parsed = email.utils.parsedate_to_datetime(value) if value else None
    if parsed is None:
        return None
    return max(0.0, parsed.timestamp() - (now if now is not None else time.time()))


def raise_for_response(response: httpx.Response, what: str) -> None:
    """Raise the syncer error this response stands for; return if it is a success.

    401/403: CredentialRefused (`forbidden` for 403) with the status and the vendor's error code, not the body;
    any other FatalError keeps the status too (`FatalError.status`). RetryableError, RejectedError otherwise."""
    status = response.status_code
    action = classify(status)
    if action is Action.OK:
        return
    if status in (401, 403):
        code = vendor_code(_json_or_none(response))
        raise CredentialRefused(what, f"HTTP {status}{f' {code}' if code else ''}", status == 403, status)
    detail = f"{what}: HTTP {response.status_code} {moved_to(response) or _short_body(response)}"
    if action is Action.RETRY:
        error = RetryableError(detail, parse_retry_after(response.headers.get("Retry-After")))
        error.throttled = response.status_code == 429  # type: ignore[attr-defined]
        raise error
    if action is Action.FATAL:
        fatal = FatalError(detail)
        fatal.status = status
        raise fatal
    raise RejectedError(detail)


_CODE = re.compile(r"[A-Za-z][A-Za-z0-9_.:-]{1,60}")
CODE_KEYS = ("category", "errorCode", "error", "code", "subCategory")  # HubSpot, Salesforce, Slack / OAuth, others


def moved_to(response: httpx.Response) -> str:
    """For a redirect (`REDIRECTS`): "moved to" where its Location points, without query, fragment or user
    info (a URL there may carry a token); "" for any other response."""
    location = response.headers.get("Location")
    if response.status_code not in REDIRECTS or not location:
        return ""
    try:
        base = str(response.request.url)
    except RuntimeError:  # a response built without its request (tests)
        base = ""
    target = urlsplit(urljoin(base, location))
    port = f":{target.port}" if target.port else ""
    return f"moved to {target.scheme}://{target.hostname}{port}{target.path}"


def vendor_code(body: object) -> str:
    """The error code a JSON error body names (HubSpot `category`, Salesforce `errorCode`, Slack/OAuth `error`), or
    "": one word of the vendor's vocabulary is what a user searches for; the body's prose may echo what was sent."""
    item = body[0] if isinstance(body, list) and body else body
    if not isinstance(item, dict):
        return ""
    for key in CODE_KEYS:
        value = item.get(key)
        if isinstance(value, str) and _CODE.fullmatch(value):
            return value
    return ""


def _json_or_none(response: httpx.Response) -> object:
    try:
        return response.json()
    except ValueError:
        return None


def origin(url: str) -> str:
    """`scheme://host:port` of a URL: what a user needs to find the service, never credentials,
    path or query (a webhook URL often embeds a token there)."""
    parts = urlsplit(url)
    port = parts.port or {"https": 443, "http": 80}.get(parts.scheme)
    return f"{parts.scheme}://{parts.hostname}{f':{port}' if port else ''}"


#: errno -> why nothing answers at the address (a socket error, or the one httpx/requests/urllib wrap)
UNREACHABLE_ERRNOS: dict[int, str] = {
    errno.ECONNREFUSED: "connection refused",
    errno.EHOSTUNREACH: "no route to host",
    errno.ENETUNREACH: "no route to host",
}
# requests/urllib3 keep only the text of the socket's error in some wrappers
_UNREACHABLE_TEXT = (
    ("Connection refused", "connection refused"),
    ("[Errno 111]", "connection refused"),
    ("No route to host", "no route to host"),
    ("Network is unreachable", "no route to host"),
    ("Failed to resolve", "unknown host"),
    ("Name or service not known", "unknown host"),
)


def unreachable_reason(exc: BaseException) -> str | None:
    """ "connection refused" / "unknown host" / "no route to host" when `exc` (or what caused it, as httpx,
    requests and urllib wrap the socket's error) says nothing answers at the address; None for any other
    failure (a timeout, a reset: the request may have been sent)."""
    seen: set[int] = set()
    todo: list[object] = [exc]
    while todo:
        current = todo.pop()
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, socket.gaierror):
            return "unknown host"
        if isinstance(current, OSError) and current.errno in UNREACHABLE_ERRNOS:
            return UNREACHABLE_ERRNOS[current.errno]
        text = str(current)
        for needle, reason in _UNREACHABLE_TEXT:
            if needle in text:
                return reason
        # urllib's URLError and urllib3's MaxRetryError keep the cause in `reason`
        todo += [current.__cause__, current.__context__, getattr(current, "reason", None), *current.args]
    return None


def retryable_from_transport(exc: BaseException, what: str, url: str | None = None) -> RetryableError | None:
    """The RetryableError for a transport failure, or None when it is not transient. With `url`, a
    refused connection, unknown host or missing route is a DestinationUnreachable naming `origin(url)`."""
    url = url or _request_url(exc)
    reason = unreachable_reason(exc) if url else None
    if reason is not None and url:
        return DestinationUnreachable(what, origin(url), reason)
    if classify_exception(exc) is Action.RETRY:
        return RetryableError(f"{what}: {type(exc).__name__}: {exc}")
    return None


def _request_url(exc: BaseException) -> str | None:
    """The URL of the request a transport error (httpx or requests) failed on, when it carries one."""
    try:
        request = getattr(exc, "request", None)  # httpx raises RuntimeError when the error has none
    except RuntimeError:
        return None
    url = getattr(request, "url", None)
    return str(url) if url else None


def _short_body(response: httpx.Response, limit: int = 300) -> str:
    try:
        text = response.text
    except Exception:  # a body we cannot decode says nothing useful
        return ""
    return masked_cut(text, limit)  # masked first: a secret straddling the cut keeps no head
