"""The webhook destination: POST signed JSON batches to any HTTP endpoint.

Every batch is one request carrying an `Idempotency-Key` derived from its records, so a receiver
can recognise a redelivery after a timeout or a reset (syncer delivers at least once). The body is
signed with HMAC-SHA256 over `f"{timestamp}.{body}"`, so a receiver can refuse forgeries and replays.
See README.md for the payload, the verification recipe and the error mapping.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

import httpx
from pydantic import ConfigDict, Field, SecretStr, field_validator

from syncer.connector import (
    Connector,
    ConnectorSettings,
    Destination,
    Record,
    RefusedProblem,
    Result,
    SettingProblem,
    TransientProblem,
    check_problem,
)
from syncer.errors import CredentialRefused, FatalError, RetryableError
from syncer.http import REDIRECTS, moved_to, raise_for_response, retryable_from_transport, tls_context
from syncer.non_finite import json_safe
from syncer.ratelimit import RateLimit, RateLimiter
from syncer.retry import RetryPolicy
from syncer.values import JSON, FieldType, to_json

from .reply import results

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Syncer-Signature"
TIMESTAMP_HEADER = "X-Syncer-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"
_RESERVED_HEADERS = {"content-type", "content-length", "host", IDEMPOTENCY_HEADER.lower()}
_SECRET_LOOKING = ("authorization", "cookie", "token", "secret", "password", "api-key", "apikey")


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header value: `v1=` + hex HMAC-SHA256 of `timestamp.body` keyed by the secret."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"v1={digest}"


def verify(
    secret: str,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    now: float,
    tolerance: float = 300.0,
) -> str | None:
    """Why a delivery must be refused (None when it is authentic and fresh): the receiver's recipe."""
    if not timestamp or not signature:
        return "missing signature or timestamp header"
    try:
        sent_at = int(timestamp)
    except ValueError:
        return "timestamp is not an integer"
    if abs(now - sent_at) > tolerance:
        return "timestamp outside the tolerance window (replay?)"
    if not hmac.compare_digest(sign(secret, timestamp, body), signature.strip()):
        return "signature does not match"
    return None


def batch_idempotency_key(batch: Sequence[Record]) -> str:
    """Same records at the same versions -> same key; any fingerprint change -> a new key."""
    digest = hashlib.sha256("\n".join(r.idempotency_key for r in batch).encode())
    return digest.hexdigest()


class WebhookSettings(ConnectorSettings):
    """Settings of one webhook destination; `signing_secret` comes from the environment, never TOML."""

    model_config = ConfigDict(hide_input_in_errors=True)  # a mistyped header value may be a secret

    url: str
    """Endpoint that receives the signed batches (http or https)."""
    signing_secret: SecretStr
    """HMAC-SHA256 key signing each request."""
    check_url: str | None = None
    """URL `syncer check` GETs (signed). Default: `url`."""
    batch_size: int | None = Field(default=100, ge=1, le=1000)
    """Records per call (1-1000)."""
    rate: float | None = Field(default=None, gt=0, description="requests per second")
    timeout: float = Field(default=30.0, gt=0)
    """Seconds per HTTP request."""
    headers: dict[str, str] = Field(default_factory=dict, description="extra, non-secret headers")

    @field_validator("url", "check_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).scheme not in ("http", "https"):
            raise ValueError("must be an http:// or https:// URL")
        return value

    @field_validator("headers")
    @classmethod
    def _plain_headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            lowered = name.lower()
            if lowered in _RESERVED_HEADERS or lowered.startswith("x-syncer-"):
                raise ValueError(f"header {name!r} is set by syncer itself")
            if any(word in lowered for word in _SECRET_LOOKING):
                raise ValueError(f"header {name!r} looks like a credential; headers are not secret")
        return value


def rate_to_limit(rate: float) -> RateLimit:
    """Requests per second as a sliding window: whole rates allow a burst of N per second."""
    if rate >= 1 and float(rate).is_integer():
        return RateLimit(int(rate), 1.0)
    return RateLimit(1, 1.0 / rate)


class WebhookConnector(Connector):
    """POST batches to `url`; a 2xx reply may carry per-record results, absent means all ok."""

    name = "webhook"
    address_settings = ("url",)
    credential_settings = ("signing_secret",)
    credential_noun = "signing secret (the one the receiver verifies)"
    permission_fix = (
        "allow syncer at the receiver (its access rules or IP allow-list), or check that `url` is its endpoint"
    )
    finds_by_match_value = False  # the receiver applies `op` by the record's key (README "Request")
    upsert_replaces_record = True  # `upsert` "creates or replaces by key" (README "Request")
    settings_model = WebhookSettings
    batch_size = 1000  # hard cap; the setting defaults to 100
    modes = frozenset({"upsert", "update", "insert", "mirror"})

    def __init__(
        self,
        settings: ConnectorSettings,
        destination: Destination,
        retry: RetryPolicy | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        if not isinstance(settings, WebhookSettings):
            raise FatalError("webhook connector needs WebhookSettings")
        super().__init__(settings, destination, retry, limiter)
        self.config = settings
        self.clock: Callable[[], float] = time.time  # wall clock for the timestamp; tests replace it
        if settings.rate is not None:
            self.limiter.set_limit(rate_to_limit(settings.rate))
        self._client = httpx.Client(timeout=settings.timeout, headers=settings.headers, verify=tls_context())

    @property
    def _where(self) -> str:
        """The URL without query or credentials: webhook URLs often embed a token."""
        parts = urlsplit(self.config.url)
        return f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}{parts.path}"

    def _signed_headers(self, body: bytes) -> dict[str, str]:
        timestamp = str(int(self.clock()))
        secret = self.config.signing_secret.get_secret_value()
        return {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: sign(secret, timestamp, body)}

    def _request(self, method: str, url: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        what = f"webhook {method} {self._where}"
        try:
            return self.call(lambda: self._client.request(method, url, content=body, headers=headers))
        except httpx.HTTPError as exc:
            retryable = retryable_from_transport(exc, what, url)
            if retryable is not None:
                raise retryable from None
            raise FatalError(f"{what}: {type(exc).__name__}") from None

    def _moved(self, response: httpx.Response, key: str) -> str:
        """Why a redirect stops the sync, naming the setting to change (a redirect is never followed: the signed
        body would go to an address nobody configured)."""
        where = f"webhook receiver at {self._where} answered HTTP {response.status_code}, {moved_to(response)}"
        return f"{self.setting(key)}: {where}: set {self.setting(key)} to the new address (redirects are not followed)"

    # -- hooks --------------------------------------------------------------------------------

    def field_types(self) -> dict[str, FieldType]:
        """A webhook takes JSON: every field is converted to a JSON value (finite numbers, exact)."""
        return dict.fromkeys(self.destination.fields, JSON)

    def write(self, batch: Sequence[Record]) -> list[Result]:
        payload = {
            "sync": self.destination.object,
            "records": [
                {
                    "key": r.key,
                    "op": r.op,
                    "fingerprint": r.fingerprint,
                    "idempotency_key": r.idempotency_key,
                    "match_value": r.match_value,
                    "fields": json_safe(r.fields),  # untyped (alert tier) payloads may hold NaN: left out
                }
                for r in batch
            ],
        }
        body = to_json(payload).encode()  # exact numbers; mapped NaN/Infinity were refused per row before
        key = batch_idempotency_key(batch)
        headers = {"Content-Type": "application/json", IDEMPOTENCY_HEADER: key, **self._signed_headers(body)}
        log.debug("webhook batch of %d record(s), idempotency key %s", len(batch), key)
        response = self._request("POST", self.config.url, body, headers)
        if response.status_code in REDIRECTS:
            raise FatalError(self._moved(response, "url"))
        raise_for_response(response, f"webhook POST {self._where}")
        return results(batch, response)

    def check(self) -> list[str]:
        """GET check_url (or url), signed: reachable, secret accepted, and mapped fields known.

        A receiver may answer with `{"fields": [...]}`; then every destination field must be in it.
        """
        url = self.config.check_url or self.config.url
        try:
            response = self._request("GET", url, b"", self._signed_headers(b""))
        except (RetryableError, FatalError) as exc:
            return [check_problem(exc, f"webhook receiver not reachable: {exc}")]
        status = response.status_code
        if status in REDIRECTS:
            key = "check_url" if self.config.check_url else "url"
            return [SettingProblem(self.setting(key), self._moved(response, key))]
        if status in (401, 403):
            refused = CredentialRefused(f"webhook GET {self._where}", f"HTTP {status}", status == 403, status)
            return [RefusedProblem(refused, f"webhook receiver refused the signature (HTTP {status})")]
        if status >= 500 or status == 429:  # no verdict on the config: plan/run ask again
            return [TransientProblem(f"webhook receiver at {self._where} answered HTTP {status}")]
        if status == 404 or (status >= 400 and self.config.check_url):
            key = self.setting("check_url" if self.config.check_url else "url")
            return [SettingProblem(key, f"webhook receiver at {self._where} answered HTTP {status}")]
        try:
            reply = response.json()
        except ValueError:
            return []
        known = reply.get("fields") if isinstance(reply, dict) else None
        if not isinstance(known, list):
            return []
        return [
            f"field {field!r} (mapping key {mapping_key!r}) is not accepted by the webhook receiver"
            for field, mapping_key in self.destination.fields.items()
            if field not in known
        ]

    def close(self) -> None:
        self._client.close()
