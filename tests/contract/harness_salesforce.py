"""Contract harness for the Salesforce connector, against the loopback HTTPS SalesforceEmulator.

The connector logs in with username + password + security token through simple-salesforce's
SOAP flow (redirected to the emulator by `login_url`) and trusts the emulator's throwaway CA.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from syncer_connectors.salesforce.emulator import SalesforceEmulator

from syncer.connector import Destination
from syncer.emulator import Fault

from .harness import FaultName

USERNAME, PASSWORD, TOKEN = "sync@acme.example", "s3cret-pw", "TOKEN123"
WRITES = r"/composite/sobjects|/jobs/ingest"


class Harness:
    name = "salesforce"

    def __init__(self) -> None:
        self.emulator = SalesforceEmulator()
        self.base_url = ""
        self.ca_bundle = ""

    def start(self, tmp_path: Path) -> None:
        self.base_url, self.ca_bundle = self.emulator.start_tls(tmp_path)
        self.emulator.add_login(USERNAME, PASSWORD, TOKEN)

    def stop(self) -> None:
        self.emulator.stop()

    def settings(self, **overrides: Any) -> dict[str, Any]:
        return {
            "instance_url": self.base_url,
            "login_url": self.base_url,
            "ca_bundle": self.ca_bundle,
            "auth": "password",
            "username": USERNAME,
            "password": PASSWORD,
            "security_token": TOKEN,
            **overrides,
        }

    def destination(self) -> Destination:
        return Destination(
            object="Account",
            match_field="External_Id__c",
            fields={"Name": "account_name", "PQL_Score__c": "fields.pql_score", "PQL_Tier__c": "fields.pql_tier"},
        )

    def valid_fields(self, i: int) -> dict[str, Any]:
        tier = ("monitor", "nurture", "escalate")[i % 3]
        return {"Name": f"Account {i}", "PQL_Score__c": i % 101, "PQL_Tier__c": tier}

    def invalid_fields(self, i: int) -> dict[str, Any]:
        return {**self.valid_fields(i), "PQL_Tier__c": "x" * 41}  # Text(40): STRING_TOO_LONG

    def stored(self) -> dict[str, dict[str, Any]]:
        return {str(row["External_Id__c"]): row for row in self.emulator.records("Account")}

    def write_count(self) -> int:
        return sum(1 for method, path, _ in self.emulator.requests if method != "GET" and "/services/data/" in path)

    def inject(self, fault: FaultName, times: int = 1) -> None:
        if fault == "5xx":
            self.emulator.faults.add(Fault("status", path=WRITES, status=503, times=times))
        elif fault == "429":
            self.emulator.faults.add(Fault("status", path=WRITES, status=429, retry_after=1, times=times))
        else:
            self.emulator.faults.add(Fault("reset_after_apply", path=WRITES, times=times))

    def bad_field_destination(self) -> Destination:
        good = self.destination()
        return Destination(good.object, good.match_field, fields={**good.fields, "PQL_Scor__c": "fields.pql_scor"})
