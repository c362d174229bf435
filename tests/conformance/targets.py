"""One target per connector path the corpus runs through: the emulator, its field definitions (one
destination field per (type, sample) case), the connector config, and what the service stored.

To add a target: subclass `Target`, list its destination types (type id -> expectation family),
and add it to TARGETS. A run of the corpus against a target is one `syncer run` of one sync.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from syncer_connectors.hubspot.emulator import HubSpotEmulator
from syncer_connectors.salesforce.emulator import SalesforceEmulator
from syncer_connectors.salesforce.emulator_store import FieldSpec, SObject
from syncer_connectors.webhook.emulator import WebhookReceiver

from syncer.emulator import Request, Response

from .expectations import OPTIONS

HS_TOKEN = "conformance-hs-token-1234"
SF_USER, SF_PASS, SF_TOKEN = "corpus@example.com", "corpus-pw-5521", "CORPUSTOKEN"
HOOK_SECRET = "whsec-conformance-8842"
ENV = {"HS_TOKEN": HS_TOKEN, "SF_USER": SF_USER, "SF_PASS": SF_PASS, "SF_TOKEN": SF_TOKEN, "HOOK_SECRET": HOOK_SECRET}


@dataclass
class Case:
    target: str
    type_id: str
    family: str
    sample: str

    @property
    def key(self) -> str:
        return f"{self.type_id}.{self.sample}"

    @property
    def column(self) -> str:
        return f"c_{self.type_id}_{self.sample}"


class Target:
    name: str
    types: dict[str, str]  # destination type id -> expectation family
    match_field: str
    obj: str

    def start(self, tmp_path: Path) -> str:
        """Start the emulator; return the `[connectors.<name>]` TOML body."""
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def field(self, type_id: str, sample: str) -> str:
        """Create the destination field for one case; return its name."""
        raise NotImplementedError

    def stored(self) -> dict[str, dict[str, Any]]:
        """Match value -> the record's fields as the service holds them."""
        raise NotImplementedError


class HubSpot(Target):
    name = "hubspot"
    types = {t: f"hubspot.{t}" for t in ("string", "number", "date", "datetime", "bool", "enumeration")}
    match_field = "syncer_id"
    obj = "companies"

    def start(self, tmp_path: Path) -> str:
        self.emulator = HubSpotEmulator(plan="increase", token=HS_TOKEN)
        self.emulator.store.define("companies", self.match_field, "string", unique=True)
        url = self.emulator.start()
        return f'base_url = "{url}"\naccess_token = "${{HS_TOKEN}}"\nplan_tier = "increase"\nrate_limit_margin = 0.0'

    def stop(self) -> None:
        self.emulator.stop()

    def field(self, type_id: str, sample: str) -> str:
        name = f"t_{type_id}_{sample}"
        options = list(OPTIONS) if type_id == "enumeration" else None
        self.emulator.store.define("companies", name, type_id, options=options)  # the emulator enforces the options
        return name

    def stored(self) -> dict[str, dict[str, Any]]:
        return self.emulator.stored("companies", self.match_field)


SF_TYPES: dict[str, tuple[str, str, int, dict[str, Any]]] = {
    # type id -> (describe type, family, length, FieldSpec keywords: the emulator enforces them and describes them)
    "string": ("string", "salesforce.text", 255, {}),
    "textarea": ("textarea", "salesforce.text", 32_000, {}),
    "email": ("email", "salesforce.email", 80, {}),
    "url": ("url", "salesforce.text", 255, {}),
    "phone": ("phone", "salesforce.text", 40, {}),
    "picklist": ("picklist", "salesforce.picklist", 255, {"restricted": True, "picklist": list(OPTIONS)}),
    "double": ("double", "salesforce.double", 0, {"precision": 18, "scale": 2}),
    "currency": ("currency", "salesforce.double", 0, {"precision": 18, "scale": 2}),
    "percent": ("percent", "salesforce.percent", 0, {"precision": 5, "scale": 2}),
    "int": ("int", "salesforce.int", 0, {"precision": 9}),
    "boolean": ("boolean", "salesforce.boolean", 0, {}),
    "date": ("date", "salesforce.date", 0, {}),
    "datetime": ("datetime", "salesforce.datetime", 0, {}),
}


class Salesforce(Target):
    """Collections: fewer changes than `bulk_threshold`, batches of 200 (sObject Collections)."""

    name = "salesforce_collections"
    types = {t: family for t, (_, family, _, _) in SF_TYPES.items()}
    match_field = "Ext__c"
    obj = "Corpus__c"
    extra_settings = "bulk_threshold = 100000\nbatch_size = 200"

    def start(self, tmp_path: Path) -> str:
        self.emulator = SalesforceEmulator()
        self.emulator.add_login(SF_USER, SF_PASS, SF_TOKEN)
        ext = FieldSpec("Ext__c", "string", 80, external_id=True, unique=True)
        self.emulator.store.objects[self.obj] = SObject(self.obj, "a0C", {"Ext__c": ext})
        if isinstance(self.emulator.bulk.objects, set):  # Bulk knows the objects it was built with
            self.emulator.bulk.objects.add(self.obj)
        url, ca_bundle = self.emulator.start_tls(tmp_path)
        return (
            f'instance_url = "{url}"\nlogin_url = "{url}"\nauth = "password"\nusername = "${{SF_USER}}"\n'
            f'password = "${{SF_PASS}}"\nsecurity_token = "${{SF_TOKEN}}"\nca_bundle = "{ca_bundle}"\n'
            + self.extra_settings
        )

    def stop(self) -> None:
        self.emulator.stop()

    def field(self, type_id: str, sample: str) -> str:
        name = f"T_{type_id}_{sample}__c"
        kind, _, length, extra = SF_TYPES[type_id]
        self.emulator.store.objects[self.obj].define(FieldSpec(name, kind, length, **extra))
        return name

    def stored(self) -> dict[str, dict[str, Any]]:
        return {str(r["Ext__c"]): r for r in self.emulator.records(self.obj)}

    def bulk_jobs(self) -> int:
        return sum(
            1 for method, path, _ in self.emulator.requests if method == "POST" and path.endswith("/jobs/ingest")
        )


class SalesforceBulk(Salesforce):
    """Bulk API 2.0: the whole change set in one job (threshold 1, batches far over 200)."""

    name = "salesforce_bulk"
    extra_settings = "bulk_threshold = 1\nbulk_batch_size = 10000"


class _ExactReceiver(WebhookReceiver):
    """The receiver, also keeping every record's fields parsed with exact decimals."""

    exact: dict[str, dict[str, Any]]

    def _deliver(self, request: Request, match: Any) -> Response:
        payload = json.loads(request.body, parse_float=Decimal)
        for record in payload.get("records") or []:
            self.exact[str(record["match_value"])] = record["fields"]
        return super()._deliver(request, match)


class Webhook(Target):
    name = "webhook"
    types = {"json": "json"}
    match_field = "ext"
    obj = "corpus"

    def start(self, tmp_path: Path) -> str:
        self.receiver = _ExactReceiver(HOOK_SECRET)
        self.receiver.exact = {}
        url = self.receiver.start()
        return f'url = "{url}/hooks"\nsigning_secret = "${{HOOK_SECRET}}"\nbatch_size = 1000'

    def stop(self) -> None:
        self.receiver.stop()

    def field(self, type_id: str, sample: str) -> str:
        return f"f_{sample}"

    def stored(self) -> dict[str, dict[str, Any]]:
        return dict(self.receiver.exact)


TARGETS: dict[str, type[Target]] = {t.name: t for t in (HubSpot, Salesforce, SalesforceBulk, Webhook)}
