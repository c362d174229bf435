"""Settings of the Salesforce connector: endpoint, one auth flow, bulk and task options.

Secrets are `SecretStr` so they never appear in logs or reprs. The auth flow is a tagged union
(`flow = "password" | "jwt" | "client_credentials" | "session"`), so a config error names the
exact missing key (e.g. `auth.jwt.private_key`).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from syncer.connector import ConnectorSettings


class _Auth(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # "login" (production), "test" (sandbox) or a My Domain prefix such as "acme.my"
    domain: str = "login"


class PasswordAuth(_Auth):
    """Username + password + security token (SOAP login, as simple-salesforce does it)."""

    flow: Literal["password"] = "password"
    username: str
    password: SecretStr
    security_token: SecretStr = SecretStr("")


class JwtAuth(_Auth):
    """OAuth 2.0 JWT bearer: a connected app's consumer key and the PEM private key it trusts."""

    flow: Literal["jwt"] = "jwt"
    username: str
    consumer_key: str
    private_key: SecretStr


class ClientCredentialsAuth(_Auth):
    """OAuth 2.0 client credentials; Salesforce requires the My Domain form of `domain`."""

    flow: Literal["client_credentials"] = "client_credentials"
    consumer_key: str
    consumer_secret: SecretStr


class SessionAuth(_Auth):
    """A ready-made session id (tests, short jobs): it cannot be refreshed when it expires."""

    flow: Literal["session"] = "session"
    session_id: SecretStr


Auth = Annotated[PasswordAuth | JwtAuth | ClientCredentialsAuth | SessionAuth, Field(discriminator="flow")]


class SalesforceSettings(ConnectorSettings):
    """Everything the connector reads from `config.toml` (secrets resolved from the environment)."""

    # REST endpoint; required for flow="session", otherwise the instance the login returns is used
    instance_url: str | None = None
    # send logins here instead of https://{domain}.salesforce.com (a proxy, the emulator)
    login_url: str | None = None
    api_version: str = "60.0"
    auth: Auth
    ca_bundle: str | None = None  # PEM bundle to trust (a TLS-intercepting proxy, the emulator)
    timeout: float = 60.0
    # stop before the org's daily API quota is used up, leaving this many calls for other integrations
    api_reserve: int = 0
    bulk_threshold: int = 10_000  # at or above this many changes in a run, use Bulk API 2.0
    bulk_batch_size: int = 10_000
    bulk_poll_interval: float = 2.0
    bulk_timeout: float = 1800.0
    task_key_field: str = "Syncer_Key__c"
