"""Logging in to Salesforce through simple-salesforce's login flows.

simple-salesforce always builds `https://{domain}.salesforce.com/...` login URLs. When
`login_url` is set (a proxy, the emulator) `LoginRedirectSession` sends those requests there
instead; everything else about the flow (SOAP envelope, JWT assertion, Basic auth) stays the
library's own, so what we test is what runs in production.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from simple_salesforce.exceptions import SalesforceAuthenticationFailed
from simple_salesforce.login import SalesforceLogin

from syncer.errors import CredentialRefused, RetryableError
from syncer.http import retryable_from_transport

from .settings import SalesforceSettings

LOGIN_PATHS = ("/services/oauth2/token", "/services/Soap/u/")


class LoginRedirectSession(requests.Session):
    """A requests.Session that sends logins to `login_url` and trusts `ca_bundle` on every request."""

    def __init__(self, login_url: str | None = None, ca_bundle: str | None = None) -> None:
        super().__init__()
        self.login_url = login_url.rstrip("/") if login_url else None
        self.ca_bundle = ca_bundle

    def request(self, method: str, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if self.login_url:
            parts = urlsplit(url.decode() if isinstance(url, bytes) else url)
            host = parts.hostname or ""
            if host.endswith(".salesforce.com") and parts.path.startswith(LOGIN_PATHS):
                url = self.login_url + parts.path + (f"?{parts.query}" if parts.query else "")
        if self.ca_bundle:
            # per request: requests lets $REQUESTS_CA_BUNDLE override a session-level `verify`
            kwargs.setdefault("verify", self.ca_bundle)
        return super().request(method, url, *args, **kwargs)


def build_session(settings: SalesforceSettings, pool_size: int) -> LoginRedirectSession:
    """One pooled session shared by every worker thread; `verify` trusts `ca_bundle` if given."""
    session = LoginRedirectSession(settings.login_url, settings.ca_bundle)
    adapter = HTTPAdapter(pool_connections=2, pool_maxsize=max(10, pool_size))
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def can_refresh(settings: SalesforceSettings) -> bool:
    return settings.auth != "session"


def login(settings: SalesforceSettings, session: requests.Session) -> tuple[str, str]:
    """Return (session id, instance base URL) for the configured flow.

    A refused login is fatal (wrong credentials do not fix themselves); a transport error is
    retryable.
    """
    flow = settings.auth
    if flow == "session":
        return settings.secret("session_id"), str(settings.instance_url).rstrip("/")
    kwargs: dict[str, Any] = {"session": session, "domain": settings.domain, "sf_version": settings.api_version}
    if flow == "password":
        kwargs.update(
            username=settings.username,
            password=settings.secret("password"),
            security_token=settings.secret("security_token"),
        )
    elif flow == "jwt":
        kwargs.update(
            username=settings.username, consumer_key=settings.consumer_key, privatekey=settings.secret("private_key")
        )
    else:
        kwargs.update(consumer_key=settings.consumer_key, consumer_secret=settings.secret("consumer_secret"))
    try:
        session_id, instance = SalesforceLogin(**kwargs)
    except SalesforceAuthenticationFailed as exc:
        raise CredentialRefused(f"Salesforce login ({flow})", str(exc.code)) from exc
    except (requests.Timeout, requests.ConnectionError) as exc:
        raise retryable_from_transport(exc, f"Salesforce login ({flow})") or RetryableError(
            f"Salesforce login ({flow}): {type(exc).__name__}: {exc}"
        ) from exc
    base = settings.instance_url.rstrip("/") if settings.instance_url else f"https://{instance}"
    return str(session_id), base
