"""Contract harness for the HubSpot connector, against the loopback HubSpotEmulator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from syncer_connectors.hubspot.emulator import HubSpotEmulator

from syncer.connector import Destination
from syncer.emulator import Fault

from .harness import FaultName

TOKEN = "contract-hubspot-token"
WRITES = r"/crm/v3/objects/companies/batch/upsert"


class Harness:
    name = "hubspot"

    def __init__(self) -> None:
        self.emulator = HubSpotEmulator(plan="starter", token=TOKEN)
        self.emulator.store.define("companies", "syncer_account_id", "string", unique=True)
        self.emulator.store.define("companies", "pql_score", "number")
        self.emulator.store.define("companies", "pql_tier", "string")

    def start(self, tmp_path: Path) -> None:
        self.emulator.start()

    def stop(self) -> None:
        self.emulator.stop()

    def settings(self) -> dict[str, Any]:
        return {"base_url": self.emulator.base_url, "access_token": TOKEN, "plan_tier": "starter", "timeout": 5.0}

    def destination(self) -> Destination:
        return Destination(
            object="companies",
            match_field="syncer_account_id",
            fields={"name": "fields.name", "pql_score": "fields.pql_score", "pql_tier": "fields.pql_tier"},
        )

    def match_value(self, i: int) -> str:
        return f"acct-{i:05d}"

    def valid_fields(self, i: int) -> dict[str, Any]:
        return {"name": f"Account {i}", "pql_score": i % 101, "pql_tier": ("monitor", "nurture", "escalate")[i % 3]}

    def invalid_fields(self, i: int) -> dict[str, Any]:
        return {**self.valid_fields(i), "pql_score": f"not-a-number-{i}"}

    def stored(self) -> dict[str, dict[str, Any]]:
        return self.emulator.stored("companies", "syncer_account_id")

    def write_count(self) -> int:
        return self.emulator.write_calls

    def inject(self, fault: FaultName, times: int = 1) -> None:
        if fault == "5xx":
            self.emulator.faults.add(Fault("status", path=WRITES, method="POST", status=502, times=times))
        elif fault == "429":
            self.emulator.faults.add(
                Fault("status", path=WRITES, method="POST", status=429, retry_after=1, times=times)
            )
        else:
            self.emulator.faults.add(Fault("reset_after_apply", path=WRITES, method="POST", times=times))

    def bad_field_destination(self) -> Destination:
        good = self.destination()
        return Destination(good.object, good.match_field, fields={**good.fields, "pql_scor": "fields.pql_scor"})
