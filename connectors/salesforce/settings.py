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


# the secret each flow logs in with: what a refused login or session names (Connector.refused)
FLOW_SECRET: dict[str, str] = {
    "password": "password",
    "jwt": "private_key",
    "client_credentials": "consumer_secret",
    "session": "session_id",
}


class SalesforceSettings(ConnectorSettings):
    """Everything the connector reads from `config.toml` (secrets resolved from the environment)."""

    instance_url: str | None = None
    """REST endpoint, e.g. `https://yourorg.my.salesforce.com`; required for `auth = "session"`, otherwise the instance
    the login returns is used.
    """
    login_url: str | None = None
    """Send logins here instead of `https://{domain}.salesforce.com` (a proxy, the emulator)."""
    api_version: str = "60.0"
    """REST API version."""
    auth: AuthFlow = "password"
    """Login flow; each needs its own keys: password (username, password [+ security_token]), jwt (username,
    consumer_key, private_key), client_credentials (consumer_key, consumer_secret), session (session_id,
    instance_url).
    """
    domain: str = "login"
    """`login` (production), `test` (sandbox) or the My Domain, e.g. `acme.my`."""
    username: str | None = None
    """Integration user (password and jwt flows)."""
    password: SecretStr | None = None
    """Integration user's password (password flow)."""
    security_token: SecretStr | None = None
    """Security token appended to the password, unless the org allow-lists syncer's IPs."""
    consumer_key: str | None = None
    """Connected app consumer key (jwt, client_credentials)."""
    consumer_secret: SecretStr | None = None
    """Connected app consumer secret (client_credentials)."""
    private_key: SecretStr | None = None
    """PEM of the key whose certificate the connected app holds (jwt)."""
    session_id: SecretStr | None = None
    """An existing session ID (session flow; cannot log in again on expiry)."""
    ca_bundle: str | None = None
    """PEM bundle to trust (a TLS-intercepting proxy, the emulator); omit in production."""
    timeout: float = 60.0
    """Seconds per HTTP request."""
    api_reserve: int = 0
    """Stop before the org's daily API quota is used up, leaving this many calls for other integrations."""
    bulk_threshold: int = 10_000
    """At or above this many changes in a run, use Bulk API 2.0 instead of composite calls."""
    bulk_batch_size: int = 10_000
    """Records per Bulk API 2.0 job."""
    bulk_poll_interval: float = 2.0
    """Seconds between Bulk API 2.0 job status polls."""
    bulk_timeout: float = 1800.0
    """Seconds a Bulk API 2.0 job may take before its records are reported failed. The job is kept: the next run
    waits for it as long again before writing anything, and holds its records back while it still runs.
    """
    task_key_field: str = "Syncer_Key__c"
    """Custom Task text field holding syncer's task key, so a task is never created twice."""

    @model_validator(mode="after")
    def _flow_has_its_keys(self) -> SalesforceSettings:
        missing = [name for name in NEEDS[self.auth] if getattr(self, name) in (None, "")]
        if missing:
            raise ValueError(f"auth = {self.auth!r} needs {', '.join(missing)}")
        return self

    def secret(self, name: str) -> str:
        value = getattr(self, name)
        return value.get_secret_value() if isinstance(value, SecretStr) else ""
