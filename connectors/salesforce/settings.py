"""Settings of the Salesforce connector: endpoint, one auth flow, bulk and task options.

Flat on purpose: the config loader refuses literal secrets only in top-level `SecretStr` fields
(they must be `${ENV}` references), so every secret sits at the top level. `auth` names the flow;
a validator checks that the flow's own keys are present, naming the missing ones.
"""

from __future__ import annotations

from typing import Literal

from pydantic import SecretStr, model_validator

from syncer.connector import ConnectorSettings

AuthFlow = Literal["password", "jwt", "client_credentials", "session"]
NEEDS: dict[str, tuple[str, ...]] = {
    "password": ("username", "password"),  # + security_token unless the org allow-lists our IPs
    "jwt": ("username", "consumer_key", "private_key"),
    "client_credentials": ("consumer_key", "consumer_secret"),  # domain must be the My Domain form
    "session": ("session_id", "instance_url"),  # tests and short jobs: cannot log in again on expiry
}


class SalesforceSettings(ConnectorSettings):
    """Everything the connector reads from `config.toml` (secrets resolved from the environment)."""

    # REST endpoint; required for auth="session", otherwise the instance the login returns is used
    instance_url: str | None = None
    # send logins here instead of https://{domain}.salesforce.com (a proxy, the emulator)
    login_url: str | None = None
    api_version: str = "60.0"
    auth: AuthFlow = "password"
    domain: str = "login"  # "login" (production), "test" (sandbox) or My Domain, e.g. "acme.my"
    username: str | None = None
    password: SecretStr | None = None
    security_token: SecretStr | None = None
    consumer_key: str | None = None
    consumer_secret: SecretStr | None = None
    private_key: SecretStr | None = None  # PEM of the key whose certificate the connected app holds
    session_id: SecretStr | None = None
    ca_bundle: str | None = None  # PEM bundle to trust (a TLS-intercepting proxy, the emulator)
    timeout: float = 60.0
    # stop before the org's daily API quota is used up, leaving this many calls for other integrations
    api_reserve: int = 0
    bulk_threshold: int = 10_000  # at or above this many changes in a run, use Bulk API 2.0
    bulk_batch_size: int = 10_000
    bulk_poll_interval: float = 2.0
    bulk_timeout: float = 1800.0
    task_key_field: str = "Syncer_Key__c"

    @model_validator(mode="after")
    def _flow_has_its_keys(self) -> SalesforceSettings:
        missing = [name for name in NEEDS[self.auth] if getattr(self, name) in (None, "")]
        if missing:
            raise ValueError(f"auth = {self.auth!r} needs {', '.join(missing)}")
        return self

    def secret(self, name: str) -> str:
        value = getattr(self, name)
        return value.get_secret_value() if isinstance(value, SecretStr) else ""
