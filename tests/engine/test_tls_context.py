"""Every httpx client of a process shares one verifying TLS context (syncer.http.tls_context): the
CA bundle is loaded once per CA setting, not once per connector (40-48 ms each, paid by every plan,
run and `check`), and a changed $SSL_CERT_FILE still gets its own context."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from typing import Any

import certifi
import pytest
from syncer_connectors.webhook.connector import WebhookConnector, WebhookSettings

from syncer import http
from syncer.connector import Destination
from syncer.ops_alerts import WebhookNotifier
from syncer.retry import no_wait

DEST = Destination("pql_alerts", "account_id", fields={"name": "account_name"})


def webhook() -> Any:
    settings = WebhookSettings.model_validate({"url": "https://hooks.example.com/in", "signing_secret": "s" * 24})
    return WebhookConnector(settings, DEST, retry=no_wait())


def notifier() -> Any:
    return WebhookNotifier("https://hooks.example.com/ops")


@pytest.mark.parametrize("build", [webhook, notifier], ids=["webhook connector", "ops webhook notifier"])
def test_clients_load_the_ca_bundle_once(build: Callable[[], Any], monkeypatch: pytest.MonkeyPatch) -> None:
    loads: list[Any] = []
    real = ssl.create_default_context

    def counting(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        loads.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    monkeypatch.setattr(ssl, "create_default_context", counting)
    http._tls_context.cache_clear()
    clients = [build() for _ in range(3)]
    assert len(loads) == 1, f"the CA bundle was loaded {len(loads)} times for 3 clients"
    for client in clients:
        close = getattr(client, "close", None)
        if close is not None:
            close()


def test_a_changed_ca_setting_gets_its_own_context(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    default = http.tls_context()
    assert http.tls_context() is default
    monkeypatch.setenv("SSL_CERT_FILE", certifi.where())
    assert http.tls_context() is not default
    assert http.tls_context().verify_mode == ssl.CERT_REQUIRED
