"""Contract harness for the webhook connector, against the loopback WebhookReceiver."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from syncer_connectors.webhook.emulator import REJECT_VALUE, WebhookReceiver

from syncer.connector import Destination
from syncer.emulator import Fault

from .harness import FaultName

SECRET = "contract-webhook-secret-0123456789"
FIELDS = ("name", "pql_score", "tier")


class Harness:
    name = "webhook"

    def __init__(self) -> None:
        self.receiver = WebhookReceiver(SECRET, path="/hooks", fields=FIELDS)

    def start(self, tmp_path: Path) -> None:
        self.receiver.start()

    def stop(self) -> None:
        self.receiver.stop()

    def settings(self) -> dict[str, Any]:
        return {"url": f"{self.receiver.base_url}/hooks", "signing_secret": SECRET}

    def destination(self) -> Destination:
        return Destination(
            object="accounts_pql",
            match_field="account_id",
            fields={"name": "account_name", "pql_score": "pql_score", "tier": "pql_tier"},
        )

    def valid_fields(self, i: int) -> dict[str, Any]:
        tier = ("monitor", "nurture", "escalate")[i % 3]
        return {"name": f"Account {i}", "pql_score": i % 101, "tier": tier}

    def invalid_fields(self, i: int) -> dict[str, Any]:
        return {**self.valid_fields(i), "tier": REJECT_VALUE}

    def stored(self) -> dict[str, dict[str, Any]]:
        with self.receiver.lock:
            return {key: dict(fields) for key, fields in self.receiver.records.items()}

    def write_count(self) -> int:
        return self.receiver.write_calls

    def inject(self, fault: FaultName, times: int = 1) -> None:
        if fault == "5xx":
            self.receiver.faults.add(Fault("status", path="/hooks", method="POST", status=503, times=times))
        elif fault == "429":
            self.receiver.faults.add(
                Fault("status", path="/hooks", method="POST", status=429, retry_after=2, times=times)
            )
        else:
            self.receiver.faults.add(Fault("reset_after_apply", path="/hooks", method="POST", times=times))

    def bad_field_destination(self) -> Destination:
        good = self.destination()
        return Destination(good.object, good.match_field, fields={**good.fields, "arr_band": "arr_band_key"})
